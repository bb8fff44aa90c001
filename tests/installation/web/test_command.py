"""`dstrtd web`: options, token and base URL resolution, errors in one line; and the web part never loads torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from curation.studio import Studio
from installation.cli import main


@pytest.fixture()
def served(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Replace uvicorn.run so the command returns; what it would have served lands in the dict."""
    import uvicorn

    seen: dict = {}

    def fake_run(app, **kwargs):
        seen.update(kwargs, app=app)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    return seen


def test_web_serves_the_studio(studio: Studio, served: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSTRTD_WEB_TOKEN", "from-the-environment-123")
    monkeypatch.delenv("DSTRTD_BASE_URL", raising=False)
    assert main(["web", "--studio", str(studio.root), "--host", "0.0.0.0", "--port", "8123",
                 "--base-url", "https://dstrtd.example/"]) == 0
    settings = served["app"].state.settings
    assert (served["host"], served["port"]) == ("0.0.0.0", 8123)
    assert settings.studio == studio.root and settings.base_url == "https://dstrtd.example"
    assert settings.token == "from-the-environment-123"
    assert "from-the-environment" not in repr(settings), "the token must not show up in logs"


def test_trusted_proxies_option(studio: Studio, served: dict) -> None:
    assert main(["web", "--studio", str(studio.root)]) == 0
    assert served["app"].state.settings.trusted_proxies == () and served["proxy_headers"] is False
    assert main(["web", "--studio", str(studio.root), "--trusted-proxies", "127.0.0.1,::1", "10.0.0.0/8"]) == 0
    assert served["app"].state.settings.trusted_proxies == ("127.0.0.1,::1", "10.0.0.0/8")
    assert served["app"].state.settings.proxies.trusts("10.2.3.4")


def test_token_option_and_defaults(studio: Studio, served: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSTRTD_WEB_TOKEN", "ignored-when-given")
    monkeypatch.setenv("DSTRTD_BASE_URL", "http://gallery.local:8000")
    monkeypatch.setenv("DSTRTD_STUDIO", str(studio.root))
    assert main(["web", "--token", "given-on-the-command-line"]) == 0
    settings = served["app"].state.settings
    assert settings.token == "given-on-the-command-line" and settings.base_url == "http://gallery.local:8000"
    assert (served["host"], served["port"]) == ("127.0.0.1", 8000)
    monkeypatch.setenv("DSTRTD_WEB_TOKEN", "  ")
    assert main(["web"]) == 0
    assert served["app"].state.settings.token is None, "a blank token disables control, it is not a token"


@pytest.mark.parametrize(("argv", "message"), [
    (["--base-url", "ftp://x"], "base_url must be an http"),
    (["--base-url", "dstrtd.example"], "base_url must be an http"),
    (["--port", "70000"], "--port must be between"),
    (["--trusted-proxies", "proxy.local"], "trusted proxy 'proxy.local' is not an IP address"),
])
def test_bad_options_fail_in_one_line(studio: Studio, served: dict, capsys: pytest.CaptureFixture, argv: list[str],
                                      message: str) -> None:
    assert main(["web", "--studio", str(studio.root), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "app" not in served


def test_a_missing_studio_says_how_to_make_one(tmp_path: Path, served: dict, capsys: pytest.CaptureFixture) -> None:
    assert main(["web", "--studio", str(tmp_path / "nowhere")]) == 2
    assert "dstrtd init" in capsys.readouterr().err


def test_the_web_part_never_imports_torch(studio: Studio) -> None:
    code = textwrap.dedent(f"""
        import sys
        from fastapi.testclient import TestClient
        import installation.commands.web
        from installation.web import WebSettings, create_app
        with TestClient(create_app(WebSettings(studio={str(studio.root)!r}))) as c:
            assert c.get("/").status_code == 200 and c.get("/api/pieces").status_code == 200
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision", "open_clip", "training")
                       or (m.startswith("generator.") and not m.startswith("generator.common")))
        assert not heavy, heavy
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_app_will_not_start_without_a_catalog(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from curation.studio import StudioError
    from installation.web import WebSettings, create_app

    with pytest.raises(StudioError, match="dstrtd init"), TestClient(create_app(WebSettings(studio=tmp_path))):
        pass
    assert not (tmp_path / "catalog.sqlite").exists(), "serving must never create an empty catalog"
