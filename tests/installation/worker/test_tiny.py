"""The studio loop on the real tiny generator and tiny curators, with an injected NaN and an injected OOM."""

from __future__ import annotations

import os

import torch

from generator.errors import NonFiniteLoss
from installation.worker import STUDIO_KEY, PipelineBackend, StudioWorker, WorkerOptions


class Injecting(PipelineBackend):
    """The real pipeline, except that the first run diverges and the third runs out of GPU memory."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def run(self, config, on_step):
        self.calls += 1
        if self.calls == 1:
            raise NonFiniteLoss("loss became nan at step 3 (injected)")
        if self.calls == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB (injected)")
        return super().run(config, on_step)


def test_tiny_studio_survives_a_nan_and_an_oom(studio) -> None:
    with studio.catalog() as cat:
        nan_job = cat.enqueue("a coral reef:1 | text, watermark:-0.5", theme="coral-reef", settings={"seed": 1})
        oom_job = cat.enqueue("a glacier under a blue sky:1", theme="glacier",
                              settings={"seed": 2, "size": [64, 64], "cutn": 8})
        options = WorkerOptions(preset="tiny", device="cpu", idle_exit=True, sample=False, worker="tiny",
                                scorer="tiny", encoder="tiny", random_curators=True,
                                overrides={"size": [48, 48], "steps": 4, "cutn": 4})
        backend = Injecting()
        worker = StudioWorker(studio, options, backend=backend, catalog=cat)
        assert worker.run() == 0
        assert [o.status for o in worker.outcomes] == ["requeued", "done", "requeued", "done"]

        nan = cat.get_job(nan_job)
        assert nan.status == "done" and nan.settings[STUDIO_KEY]["failed_seeds"] == [1] and nan.attempts == 2
        oom = cat.get_job(oom_job)
        # 64 x 0.75 = 48 rounds down to the 16-pixel grid, but never below 64: the size stays, cutn halves
        assert oom.status == "done" and oom.settings["cutn"] == 4 and oom.settings[STUDIO_KEY]["oom_retries"] == 1

        for job in (nan, oom):
            piece = cat.get_piece(job.piece_id)
            files = sorted(os.listdir(cat.root / piece.folder))
            assert {"image.png", "settings.json", "loss.csv", "loss.png"} <= set(files)
            assert piece.settings["seed"] == piece.seed and piece.settings["preset"] == "tiny"
            assert "weights_sha256" in piece.settings
            assert set(piece.scores) == {"aesthetic", "alignment"} and 1 <= piece.scores["aesthetic"] <= 10
            assert piece.status in ("accepted", "featured", "rejected")
            assert cat.decisions(piece.id)[-1].reasons
        assert cat.clusters() and cat.check() == []
