"""`dstrtd catalog jobs`: how far each running job is, every worker and its heartbeat, cancelling and reprioritising
queued jobs; `dstrtd catalog check` lists what killed workers left."""

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


def test_queued_jobs_are_cancelled_and_reprioritised_from_the_cli(studio, capsys: pytest.CaptureFixture[str]) -> None:
    with studio.catalog() as cat:
        first, second, third = (cat.enqueue(f"piece {i}:1", theme="glacier") for i in range(3))
        running = cat.enqueue("a wetland:1")
        cat.set_job_priority(running, 9)
        cat.claim_job("gpu0:1")
    root = ["--studio", str(studio.root)]
    assert main(["catalog", "jobs", *root, "priority", str(third), "5"]) == 0
    assert capsys.readouterr().out == f"job {third}: priority 5; runs 1 of 3 in the queue\n"
    assert main(["catalog", "jobs", "cancel", str(first), str(second), "--reason", "wrong theme", *root]) == 0
    assert capsys.readouterr().out == f"job {first}: cancelled (wrong theme)\njob {second}: cancelled (wrong theme)\n"
    assert main(["catalog", "jobs", *root, "cancel", str(third), str(running)]) == 2  # all checked first
    assert f"job {running} is running; only a queued job can be cancelled; nothing was cancelled" in (
        capsys.readouterr().err)
    assert main(["catalog", "jobs", *root, "priority", "999", "1"]) == 2
    assert "no job with id 999" in capsys.readouterr().err
    with studio.catalog() as cat:
        assert [(j.id, j.status, j.priority) for j in cat.list_jobs()] == [
            (first, "failed", 0), (second, "failed", 0), (third, "queued", 5), (running, "running", 9)]
        assert cat.get_job(first).error == "cancelled: wrong theme"


def test_catalog_jobs_lists_every_worker_with_its_heartbeat(studio, capsys: pytest.CaptureFixture[str]) -> None:
    with studio.catalog() as cat:
        job = cat.enqueue("a reef:1")
        cat.register_worker("box-a:7", host="box-a", pid=7, device="cuda:0", capabilities={})
        cat.register_worker("box-b:8", host="box-b", pid=8, device="cpu", capabilities={})
        cat.claim_job("box-a:7")
        cat.worker_stopped("box-b:8")
    assert main(["catalog", "jobs", "--studio", str(studio.root)]) == 0
    out = capsys.readouterr().out.split("\n\n")[1].splitlines()
    assert out[0].split() == ["worker", "host", "device", "job", "heartbeat", "state"]
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert rows["box-a:7"][:4] == ["box-a:7", "box-a", "cuda:0", str(job)] and rows["box-a:7"][-1] == "running"
    assert rows["box-b:8"][:4] == ["box-b:8", "box-b", "cpu", "-"] and "stopped" in rows["box-b:8"]


def test_catalog_check_lists_what_killed_workers_left(studio, capsys: pytest.CaptureFixture[str]) -> None:
    (studio.tmp_dir / "job3-0a1b2c3d").mkdir(parents=True)
    (studio.pending_dir / "job4-1-0a1b2c3d").mkdir(parents=True)
    assert main(["catalog", "check", "--studio", str(studio.root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("temporary folder cache/tmp/job3-0a1b2c3d (a worker's piece being written), 0 s old")
    assert out[1].startswith("finished piece cache/pending/job4-1-0a1b2c3d waits to be stored")
    assert out[2] == f"2 problem(s) in {studio.root}"


def test_a_second_machine_joins_a_shared_catalog_from_the_cli(catalog_url: str, tmp_path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    first, second = str(tmp_path / "studio-a"), str(tmp_path / "studio-b")
    assert main(["init", first, "--catalog", catalog_url]) == 0
    assert "themes.toml (4: coral-reef" in capsys.readouterr().out  # the first machine brings the themes
    assert main(["init", second, "--catalog", catalog_url]) == 0
    out = capsys.readouterr().out
    assert "catalog  postgresql://postgres@/" in out and "themes   from the catalog (4: coral-reef" in out
    assert main(["queue", "a reef:1", "--theme", "coral-reef", "--studio", second, "--catalog", catalog_url]) == 0
    capsys.readouterr()
    assert main(["catalog", "jobs", "--studio", first, "--catalog", catalog_url, "--json"]) == 0
    assert [j["prompt"] for j in json.loads(capsys.readouterr().out)] == ["a reef:1"]
    assert main(["catalog", "jobs", "--studio", first, "--catalog", str(tmp_path / "x.sqlite")]) == 2
    assert "takes a postgresql:// URL" in capsys.readouterr().err
    assert main(["catalog", "jobs", "--studio", str(tmp_path / "nowhere"), "--catalog", catalog_url]) == 2
    assert "dstrtd init" in capsys.readouterr().err
