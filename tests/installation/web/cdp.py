"""Drive a real headless Chromium through the DevTools protocol over a pipe (`--remote-debugging-pipe`: JSON messages
ending in a NUL byte on file descriptors 3 and 4), so a test can press a page's buttons as a person would, without
a websocket library or a browser-automation package."""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any


class Browser:
    """One headless Chromium with one page; `open(url)`, `evaluate(js)`, `click(css)` (waits for the next page)."""

    def __init__(self, profile: Path, size: tuple[int, int], timeout: float = 30.0) -> None:
        self.timeout = timeout
        commands_read, self._commands = os.pipe()  # we write, Chromium reads its fd 3
        self._answers, answers_write = os.pipe()  # Chromium writes its fd 4, we read
        cmd = [shutil.which("chromium") or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--remote-debugging-pipe", f"--user-data-dir={profile}",
               f"--window-size={size[0]},{size[1]}", "about:blank"]

        def wire() -> None:  # in the child: its fds 3 and 4 become the pipes' far ends
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in (commands_read, answers_write)]  # no overlap
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        # why 3 and 4 in pass_fds: the child closes every other descriptor after `wire` has run
        self._proc = subprocess.Popen(cmd, pass_fds=(3, 4, commands_read, answers_write), preexec_fn=wire,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(commands_read)
        os.close(answers_write)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        targets = self._call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self._session = self._call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=size[0], height=size[1], deviceScaleFactor=1,
                  mobile=size[0] < 600)

    # -- the protocol -----------------------------------------------------------------------------------------------

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                raise ConnectionError("chromium closed the pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def _call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self._events.append(answer)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self._call(method, self._session, **params)

    def _wait_for(self, event: str) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, seen in enumerate(self._events):
                if seen.get("method") == event:
                    del self._events[: i + 1]
                    return
            self._events.append(self._message(deadline))

    # -- what a test does -------------------------------------------------------------------------------------------

    def open(self, url: str) -> None:
        self._events.clear()
        self.call("Page.navigate", url=url)
        self._wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (DevTools runs it whatever the page's CSP says)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """Press the element as a person would (a real mouse event at its centre); waits for the page it leads to."""
        box = self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                            "e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); "
                            "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        self._events.clear()
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)
        self._wait_for("Page.loadEventFired")

    def close(self) -> None:
        try:
            self._call("Browser.close")
        except (OSError, TimeoutError, ConnectionError, RuntimeError):
            pass
        for fd in (self._commands, self._answers):
            os.close(fd)
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
