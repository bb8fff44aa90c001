"""The package layers of STYLE.md and the promise that the gallery, web and export paths never load torch."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _modules_loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "", "SDL_VIDEODRIVER": "dummy", "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def test_cli_parser_loads_no_torch() -> None:
    loaded = _modules_loaded_after("from installation.cli import build_parser; build_parser()")
    assert "torch" not in loaded
    assert "installation.cli" in loaded


@pytest.mark.parametrize("command", ["gallery", "web", "export", "catalog", "init"])
def test_light_subcommands_load_no_torch(command: str) -> None:
    from installation.cli import COMMANDS

    module = COMMANDS[command][0]
    loaded = _modules_loaded_after(
        f"import importlib\ntry:\n    importlib.import_module({module!r})\nexcept ModuleNotFoundError:\n    pass\n"
        f"from curation.studio import init_studio\nimport tempfile\ninit_studio(tempfile.mkdtemp())")
    assert "torch" not in loaded
    assert "curation.catalog" in loaded


def test_help_lists_every_built_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    from installation.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("init", "demo"):
        assert name in out
