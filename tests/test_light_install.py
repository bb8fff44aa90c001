"""The display-only install (installation/requirements-display.txt): gallery, web, export, catalog and init run with
no torch stack at all, and the studio-side commands say what is missing instead of a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "installation" / "requirements-display.txt"

# The torch stack and the studio-only helpers; importing any of them in the probe fails as if not installed.
BLOCKED = ("torch", "torchvision", "open_clip", "kornia", "taming", "einops", "safetensors", "matplotlib", "optuna",
           "tqdm")


def _requirement_name(spec: str) -> str:
    return re.split(r"[\[<>=!~ ]", spec, maxsplit=1)[0].lower()


def test_display_requirements_follow_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["postgres"]
    pinned = {_requirement_name(d): d.replace(" ", "") for d in deps}
    lines = [line.strip() for line in REQUIREMENTS.read_text().splitlines() if line.strip() and line[0] != "#"]
    assert {_requirement_name(x) for x in lines} == {"pygame-ce", "qrcode", "instaloader", "fastapi", "uvicorn",
                                                     "numpy", "pillow", "filelock", "psycopg", "psycopg-pool"}
    for line in lines:
        assert pinned[_requirement_name(line)] == line.replace(" ", ""), f"{line} differs from pyproject.toml"
    assert not {_requirement_name(x) for x in lines} & {"torch", "torchvision", "open-clip-torch", "kornia"}


PROBE = textwrap.dedent('''
    import importlib.abc, io, sys, contextlib, json
    from pathlib import Path

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    from PIL import Image
    from installation.cli import main

    tmp = Path(sys.argv[1])
    studio = str(tmp / "studio")
    results = {}

    def run(name, argv):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            results[name] = [main(argv), err.getvalue()]

    run("init", ["init", studio])
    from curation.studio import open_studio
    Image.new("RGB", (64, 64), (30, 120, 200)).save(tmp / "a.png")
    with open_studio(studio).catalog() as cat:
        piece = cat.add_piece({"image.png": tmp / "a.png"}, prompt="a reef:1", theme="coral-reef")
        cat.decide(piece.id, "featured", ["test"])
    run("catalog", ["catalog", "list", "--studio", studio])
    run("posters", ["export", "posters", "--studio", studio, "--size", "A5", "--dpi", "72", "--out", str(tmp / "p")])
    run("social", ["export", "social", "--studio", studio, "--out", str(tmp / "s")])
    run("gallery", ["gallery", "--studio", studio, "--windowed", "320x180", "--frames", "3"])
    run("generate", ["generate", "a reef:1", "--preset", "tiny", "--out", str(tmp / "g")])
    run("curate", ["curate", "--studio", studio])

    from fastapi.testclient import TestClient
    from installation.web.app import create_app
    from installation.web.settings import WebSettings
    with TestClient(create_app(WebSettings(studio=Path(studio)))) as client:
        results["web"] = [client.get(f"/p/{piece.slug}").status_code, ""]
    results["loaded"] = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
    print(json.dumps(results))
''')


def test_display_commands_run_without_the_torch_stack(tmp_path: Path) -> None:
    code = f"BLOCKED = {BLOCKED!r}\n{PROBE}"
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env={"PATH": "", "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
                                           "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    for name in ("init", "catalog", "posters", "social", "gallery"):
        assert results[name][0] == 0, f"dstrtd {name} failed without torch: {results[name][1]}"
    assert results["web"][0] == 200
    assert list((tmp_path / "p").glob("*.pdf")) and list((tmp_path / "s").iterdir())
    for name in ("generate", "curate"):
        code_, err = results[name]
        assert code_ == 2, err
        assert "needs the package 'torch', which is not installed here" in err
        assert "Traceback" not in err
    assert results["loaded"] == []


def test_only_a_package_that_is_really_absent_is_called_missing(monkeypatch) -> None:
    import importlib.util

    from installation import cli

    # torch is installed here: a missing submodule of it is some other problem, left to the generic handler
    assert cli._missing_dependency(ModuleNotFoundError("No module named 'torch.not_a_module'",
                                                       name="torch.not_a_module")) is None
    assert cli._missing_dependency(ModuleNotFoundError("x", name="generator.nothing")) is None  # our own code
    assert cli._missing_dependency(ValueError("torch")) is None
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)  # as on a display-only install
    assert cli._missing_dependency(ModuleNotFoundError("x", name="torch.nn")) == "torch"
