"""The workers that run jobs, on every machine: who they are, what they can run, what they run now, and their
heartbeat (`dstrtd catalog jobs`, the review page's Studio tab). No write here moves the gallery's revision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from curation.catalog.database import Database
from curation.catalog.jobs import PROGRESS_BUSY_MS
from curation.catalog.records import WorkerInfo, now_iso, to_json


class SqlWorkers:
    def __init__(self, db: Database) -> None:
        self._db = db

    def register(self, name: str, *, host: str, pid: int, device: str, capabilities: Mapping[str, Any]) -> None:
        """Say that worker `name` started (again): its machine, process, device and what it can run."""
        with self._db.transaction(visible=False) as db:
            db.execute(
                f"""INSERT INTO workers (name, host, pid, device, capabilities, job_id, started, heartbeat, stopped)
                    VALUES (?, ?, ?, ?, ?, NULL, ?, {self._db.NOW}, '')
                    ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid,
                      device = excluded.device, capabilities = excluded.capabilities, job_id = NULL,
                      started = excluded.started, heartbeat = excluded.heartbeat, stopped = ''""",
                (name, host, int(pid), device, to_json(dict(capabilities)), now_iso()))

    def beat(self, name: str, job_id: int | None) -> None:
        """The worker is alive and runs `job_id` (None: idle). Waits at most PROGRESS_BUSY_MS for a busy catalog."""
        self._db.require_writable()
        with self._db.busy_wait(PROGRESS_BUSY_MS):
            self._db.execute(f"UPDATE workers SET heartbeat = {self._db.NOW}, job_id = ? WHERE name = ?",
                             (job_id, name))

    def stopped(self, name: str) -> None:
        with self._db.transaction(visible=False) as db:
            db.execute("UPDATE workers SET stopped = ?, job_id = NULL WHERE name = ?", (now_iso(), name))

    def all(self) -> list[WorkerInfo]:
        """Every worker ever registered, the most recently heard first."""
        rows = self._db.execute(f"SELECT *, {self._db.NOW} - heartbeat AS seen_s FROM workers "
                                "ORDER BY heartbeat DESC, name")
        return [WorkerInfo.from_row(r) for r in rows]
