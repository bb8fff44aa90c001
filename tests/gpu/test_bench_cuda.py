"""Smoke runs of the GPU benchmarks on tiny sizes: each runs on the device and writes its JSON with memory figures."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import DEVICE, GPU, ON_CUDA

pytestmark = GPU

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(*names: str) -> ModuleType:
    """A bench script by file path (bench/ is no package, and its generator.py would shadow ours by name)."""
    path = next((BENCH / n for n in names if (BENCH / n).is_file()), None)
    if path is None:
        pytest.fail(f"none of {names} in {BENCH}")
    sys.path.append(str(BENCH))  # as when run as a script: its helpers (anchor_loop.py) sit beside it
    spec = importlib.util.spec_from_file_location(f"_bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # undo what the scripts and `_load` add


def test_generator_bench_row_with_anchor(tmp_path):
    bench = _load("generator.py", "bench_generator.py")
    out = tmp_path / "generator.json"
    assert bench.main(["--device", DEVICE, "--sizes", "64", "--cutn", "2", "--steps", "1", "--warmup", "1",
                       "--anchor", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["device"].startswith(DEVICE.split(":")[0])
    real = [r for r in report["rows"] if r["model"] != "tiny preset"]
    assert len(real) == 1 and real[0]["size"] == [64, 64] and real[0]["cutn"] == 2
    for row in report["rows"]:
        assert row["s_per_step"] > 0 and row["peak_mb"] > 0
        assert row["memory"] == ("cuda max_memory_allocated" if ON_CUDA else "process RSS")
    assert real[0]["anchor"]["peak_mb"] > 0 and real[0]["speed_ratio"] > 0 and real[0]["memory_ratio"] > 0
    if ON_CUDA:
        assert report["machine"]["gpu"] and report["anchor"]["clip_dtype"] == "float16"


def test_piece_bench_times_whole_pieces(tmp_path):
    bench = _load("gpu_piece.py")
    out = tmp_path / "piece.json"
    assert bench.main(["--tiny", "--steps", "3", "--size", "64", "64", "--cutn", "4", "--device", DEVICE,
                       "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [p["cold"] for p in report["pieces"]] == [True, False]
    assert all(p["steps_done"] == 3 and p["seconds"] > 0 for p in report["pieces"])
    assert report["meets_target"] is None  # only a 300-step ~300 px piece is judged
    assert all(("max_memory_allocated_mb" in p) == ON_CUDA for p in report["pieces"])


def test_curation_bench_on_the_device(tmp_path):
    bench = _load("gpu_curation.py")
    out = tmp_path / "curation.json"
    assert bench.main(["--device", DEVICE, "--tower", "tiny", "--batches", "4", "--repeats", "1",
                       "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    modes = {r["mode"] for r in report["rows"]}
    assert modes == {"fp32", "bf16"} or modes == {"fp32", "fp16"}
    assert all(r["images_per_s"] > 0 for r in report["rows"])
    assert all(("max_memory_allocated_mb" in r) == ON_CUDA for r in report["rows"])
