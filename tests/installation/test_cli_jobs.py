"""`dstrtd catalog jobs` shows how far each running job is."""

from __future__ import annotations

import json

import pytest

from installation.cli import main


def test_catalog_jobs_shows_the_progress_of_running_jobs(studio, capsys: pytest.CaptureFixture[str]) -> None:
    with studio.catalog() as cat:
        running = cat.enqueue("a coral reef:1", theme="coral-reef")
        fresh = cat.enqueue("a glacier:1", theme="glacier")
        waiting = cat.enqueue("a wetland:1", theme="wetland")
        cat.claim_job("gpu0:11")
        cat.claim_job("gpu1:12")  # claimed, no step recorded yet
        cat.set_job_progress(running, 120, 300, 0.81234)
    assert main(["catalog", "jobs", "--studio", str(studio.root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:7] == ["id", "status", "attempts", "theme", "worker", "progress", "prompt"]
    rows = {int(line.split()[0]): line for line in lines[1:]}
    assert "gpu0:11  step 120/300 loss 0.8123  a coral reef:1" in rows[running]
    assert "gpu1:12  -" in rows[fresh] and " -  " in rows[waiting] and "step" not in rows[waiting]
    assert main(["catalog", "jobs", "--studio", str(studio.root), "--json"]) == 0
    data = {j["id"]: j for j in json.loads(capsys.readouterr().out)}
    assert (data[running]["step"], data[running]["steps"], data[running]["loss"]) == (120, 300, 0.81234)
    assert data[waiting]["steps"] == 0 and data[waiting]["loss"] is None
