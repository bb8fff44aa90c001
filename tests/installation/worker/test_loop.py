"""The studio loop in-process with a stand-in generator: jobs become pieces, stops, sampling from the themes, theme
edits while running, progress, a busy catalog."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from curation.catalog import Catalog, CatalogUnavailable
from generator.errors import NonFiniteLoss
from installation.worker import StudioWorker, WorkerOptions, WorkerStop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from worker_fakes import SMALL, AcceptAll, FakeBackend, make_worker  # noqa: E402


def test_jobs_become_pieces_with_their_settings(studio, cat: Catalog) -> None:
    ids = [cat.enqueue("a coral reef:1 | text, watermark:-0.5", theme="coral-reef", settings={"seed": 7}),
           cat.enqueue("a glacier:1", theme="glacier", settings={"steps": 2})]
    w, curator = make_worker(studio, cat, FakeBackend())
    assert w.run() == 0
    for job_id in ids:
        job = cat.get_job(job_id)
        assert (job.status, job.attempts, job.error, job.worker) == ("done", 1, "", "test-worker")
        piece = cat.get_piece(job.piece_id)
        assert piece.status == "accepted" and piece.job_id == job_id
        assert sorted(os.listdir(cat.root / piece.folder)) == ["image.png", "loss.csv", "settings.json"]
        assert (piece.width, piece.height) == (32, 32) and piece.settings["worker"] == "test-worker"
    first = cat.get_piece(cat.get_job(ids[0]).piece_id)
    assert first.seed == 7 and first.settings["prompts"] == ["a coral reef:1", "text, watermark:-0.5"]
    assert first.settings["preset"] == "tiny" and first.settings["vqgan"] == "tiny"
    assert cat.get_piece(cat.get_job(ids[1]).piece_id).settings["steps"] == 2
    assert curator.seen == [cat.get_job(i).piece_id for i in ids]
    assert [o.status for o in w.outcomes] == ["done", "done"]
    assert cat.check() == [] and not list((cat.root / "cache" / "tmp").iterdir())


def test_a_stop_request_requeues_the_current_job(studio, cat: Catalog) -> None:
    job_id = cat.enqueue("a glacier:1")

    class StopsMidway(FakeBackend):
        def run(self, config, on_step):
            def stepper(step):
                if step.index == 1:
                    w.request_stop("interrupted by SIGTERM")
                on_step(step)
            return super().run(config, stepper)

    w, _ = make_worker(studio, cat, StopsMidway(), idle_exit=False)
    assert w.run() == 0
    job = cat.get_job(job_id)
    assert job.status == "queued" and job.error == "interrupted by SIGTERM; requeued" and job.worker == ""
    assert cat.count_pieces() == 0 and w.outcomes[0].status == "interrupted"


def test_an_empty_queue_samples_the_least_made_themes(studio, cat: Catalog) -> None:
    w, _ = make_worker(studio, cat, FakeBackend(), sample=True, max_jobs=3, sample_seed=0)
    assert w.run() == 0
    jobs = cat.list_jobs()
    assert len(jobs) == 3 and {j.status for j in jobs} == {"done"} and {j.priority for j in jobs} == {-1}
    assert len({j.theme for j in jobs}) == 3  # each time a theme with no piece yet
    reef = cat.get_theme(jobs[0].theme)
    assert jobs[0].prompt == " | ".join((*reef.prompts, *reef.negative_prompts))


def test_max_jobs_and_idle_wait(studio, cat: Catalog) -> None:
    for i in range(3):
        cat.enqueue(f"piece {i}:1")
    w, _ = make_worker(studio, cat, FakeBackend(), max_jobs=2)
    assert w.run() == 0
    assert [j.status for j in cat.list_jobs()] == ["done", "done", "queued"]


def test_a_failed_curation_leaves_the_piece_undecided_and_the_next_start_decides(studio, cat: Catalog) -> None:
    job_id = cat.enqueue("a glacier:1")

    class Broken(AcceptAll):
        def curate(self, pieces):
            raise RuntimeError("scorer exploded")

    w = StudioWorker(studio, WorkerOptions(preset="tiny", idle_exit=True, sample=False, overrides=SMALL),
                     backend=FakeBackend(),
                     curator=Broken(cat), catalog=cat)
    assert w.run() == 0
    piece = cat.get_piece(cat.get_job(job_id).piece_id)
    assert cat.get_job(job_id).status == "done" and piece.status == "generated"
    w2, curator = make_worker(studio, cat, FakeBackend())
    assert w2.run() == 0
    assert curator.seen == [piece.id] and cat.get_piece(piece.id).status == "accepted"


def test_requeue_running_option_takes_back_every_running_job(studio, cat: Catalog) -> None:
    job_id = cat.enqueue("a glacier:1")
    cat.claim_job("other-host:42")
    w, _ = make_worker(studio, cat, FakeBackend(), requeue_running=True)
    assert w.run() == 0
    assert cat.get_job(job_id).status == "done"


def test_a_locked_catalog_is_waited_out(studio, cat: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = cat.enqueue("a glacier:1")
    real_claim = cat.claim_job
    calls = []

    def flaky_claim(name, **kwargs):
        calls.append(name)
        if len(calls) == 1:
            raise CatalogUnavailable("the catalog is busy or unreachable (database is locked)")
        return real_claim(name, **kwargs)

    monkeypatch.setattr(cat, "claim_job", flaky_claim)
    w, _ = make_worker(studio, cat, FakeBackend(), poll=0.01)
    assert w.run() == 0
    assert cat.get_job(job_id).status == "done" and len(calls) >= 2


def test_edits_to_themes_reach_the_running_worker(studio, cat: Catalog, caplog: pytest.LogCaptureFixture) -> None:
    w, _ = make_worker(studio, cat, FakeBackend(), sample=True, max_jobs=1)
    w.refresh_themes(strict=True)
    studio.themes_path.write_text(studio.themes_path.read_text()
                                  + '\n[[theme]]\nname = "kelp"\nprompts = ["a kelp forest:1"]\n')
    w.refresh_themes()
    assert cat.get_theme("kelp").prompts == ("a kelp forest:1",)
    good = studio.themes_path.read_text()
    studio.themes_path.write_text(good.replace('name = "kelp"', 'name = 3'))
    w.refresh_themes()  # a broken edit mid-run: logged, the old themes stay
    assert "needs a `name`" in caplog.text and "keeping the themes as they were" in caplog.text
    assert cat.get_theme("kelp") is not None
    with pytest.raises(WorkerStop, match="needs a `name`"):
        StudioWorker(studio, w.options, backend=FakeBackend(), catalog=cat).refresh_themes(strict=True)


def test_a_broken_themes_file_stops_the_worker_at_start(studio, cat: Catalog) -> None:
    studio.themes_path.write_text("[[theme]]\nname = \n")
    w, _ = make_worker(studio, cat, FakeBackend())
    assert w.run() == 2
    assert cat.list_jobs() == []


def test_progress_is_recorded_as_often_as_it_is_logged(studio, cat: Catalog, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    job_id = cat.enqueue("a glacier:1", settings={"steps": 20})
    real, seen = cat.set_job_progress, []

    def spy(job, step, steps, loss, **kwargs):
        seen.append((step, steps, round(loss, 4), cat.get_job(job).status))
        return real(job, step, steps, loss, **kwargs)

    monkeypatch.setattr(cat, "set_job_progress", spy)
    w, _ = make_worker(studio, cat, FakeBackend())
    with caplog.at_level("INFO", "installation.worker.loop"):
        assert w.run() == 0
    # every 10 % of the steps (every 2nd of 20) and the last one, while the job runs
    assert [s[0] for s in seen] == [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 20]
    assert {(s[1], s[3]) for s in seen} == {(20, "running")} and seen[-1][2] == round(1 / 20, 4)
    logged = [m for m in caplog.messages if m.startswith(f"job {job_id}: step ")]
    assert logged == [f"job {job_id}: step {s}/20 loss {loss:.4f}" for s, _, loss, _ in seen]
    job = cat.get_job(job_id)
    assert (job.status, job.step, job.steps, job.loss) == ("done", 20, 20, 0.05)  # a done job shows its last step


def test_a_failing_progress_write_never_fails_the_job(studio, cat: Catalog, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    job_id = cat.enqueue("a glacier:1")
    calls = []

    def locked(*args, **kwargs):
        calls.append(args)
        raise CatalogUnavailable("the catalog is busy or unreachable (database is locked)")

    monkeypatch.setattr(cat, "set_job_progress", locked)
    w, curator = make_worker(studio, cat, FakeBackend())
    assert w.run() == 0
    assert len(calls) == 3 and cat.get_job(job_id).status == "done" and w.outcomes[0].status == "done"
    assert curator.seen == [cat.get_job(job_id).piece_id]
    assert (f"job {job_id}: could not record its progress (CatalogUnavailable: the catalog is busy or unreachable "
            "(database is locked))") in caplog.text


def test_a_theme_removed_from_the_file_is_never_sampled_again(studio, cat: Catalog) -> None:
    w, _ = make_worker(studio, cat, FakeBackend(), sample=True, max_jobs=8, sample_seed=0)
    text = studio.themes_path.read_text()
    studio.themes_path.write_text(text.replace('name = "wetland"', 'name = "marsh"'))  # renamed by the artist
    assert w.run() == 0
    themes = {j.theme for j in cat.list_jobs()}
    assert "wetland" not in themes and "marsh" in themes
    assert cat.get_theme("wetland").reflection  # retired, kept for the pages of its pieces


def test_a_retried_job_shows_only_its_new_attempts_progress(studio, cat: Catalog) -> None:
    job_id = cat.enqueue("a glacier:1", settings={"steps": 4})
    progress = []

    class Watches(FakeBackend):
        def run(self, config, on_step):
            progress.append(cat.get_job(job_id).step)  # at the start of each attempt
            return super().run(config, on_step)

    w, _ = make_worker(studio, cat, Watches(fail=[NonFiniteLoss("nan")]))
    assert w.run() == 0
    job = cat.get_job(job_id)
    assert progress == [0, 0] and (job.attempts, job.step, job.steps) == (2, 4, 4)
