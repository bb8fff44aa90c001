"""Every benchmark starts as `python bench/NAME.py`: bench/ is then first on sys.path, and bench/generator.py,
curation.py and training.py share their names with our packages, so a script that forgets to put the checkout first
imports a benchmark instead of the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p.name for p in (ROOT / "bench").glob("*.py") if p.name != "anchor_loop.py")


def test_the_scripts_are_found() -> None:
    assert {"generator.py", "curation.py", "training.py", "export.py", "gallery.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_script_imports_our_packages_not_its_neighbours(script: str) -> None:
    # run it as `python bench/NAME.py --help` does, from another folder, and see which files its imports came from
    probe = ("import runpy, sys\n"
             f"sys.argv = [{script!r}, '--help']\n"
             "try:\n"
             f"    runpy.run_path({str(ROOT / 'bench' / script)!r}, run_name='__main__')\n"
             "except SystemExit:\n"
             "    pass\n"
             "for name in ('generator', 'curation', 'training', 'installation'):\n"
             "    mod = sys.modules.get(name)\n"
             "    print(name, getattr(mod, '__path__', None) is not None if mod else 'absent')\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT / "tests", capture_output=True, text=True,
                         timeout=300, env={"PATH": "", "PYTHONPATH": str(ROOT / "bench"), "SDL_VIDEODRIVER": "dummy",
                                           "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "usage:" in out.stdout
    rows = [line.split() for line in out.stdout.splitlines()]
    seen = {r[0]: r[1] for r in rows if len(r) == 2 and r[0] in ("generator", "curation", "training", "installation")}
    assert seen.keys() == {"generator", "curation", "training", "installation"}
    assert "False" not in seen.values(), f"{script} imported a bench/ file as one of our packages: {seen}"
