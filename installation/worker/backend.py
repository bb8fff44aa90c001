"""The worker's seams: what it needs from the generator (`Backend`, the real one is `PipelineBackend`) and from the
curators (`PieceCurator`), typed with the generator's own config, step and result. Tests inject stand-ins.

Torch loads only when a backend is used: the generator's types are imported for type checking alone.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from curation.catalog import Piece
from installation.job_settings import make_config, parse_job_prompts  # noqa: F401 - the rules queue and web check

if TYPE_CHECKING:
    from curation.curator import CurationRow
    from generator.config import GenerateConfig
    from generator.pipeline import Models, Result, Step

log = logging.getLogger(__name__)


class Backend(Protocol):
    """What the loop needs from the generator: load the models for a config, run one piece, write its files."""

    def prepare(self, config: GenerateConfig) -> None: ...

    def run(self, config: GenerateConfig, on_step: Callable[[Step], None]) -> Result: ...

    def write(self, folder: Path, result: Result) -> Mapping[str, Path]: ...


class PieceCurator(Protocol):
    """What the loop needs from the curators: score, cluster and decide on new pieces (`curation.curator.Curator`)."""

    def curate(self, pieces: Sequence[Piece]) -> list[CurationRow]: ...


class PipelineBackend:
    """The real generator: `load_models` once per (VQGAN, perceptors, device), `run`, `write_piece`."""

    def __init__(self) -> None:
        self._models: dict[tuple[Any, ...], Models] = {}

    @staticmethod
    def _model_key(config: GenerateConfig) -> tuple[Any, ...]:
        return (config.vqgan, tuple(config.perceptors), config.device)

    def prepare(self, config: GenerateConfig) -> None:
        from generator.pipeline import load_models

        key = self._model_key(config)
        if key not in self._models:
            self._models.clear()  # one set of models per worker: a GPU rarely holds two
            empty_cuda_cache()
            log.info("loading models: VQGAN %s, perceptors %s on %s", *key)
            self._models[key] = load_models(config)

    def run(self, config: GenerateConfig, on_step: Callable[[Step], None]) -> Result:
        from generator.pipeline import run

        self.prepare(config)
        return run(config, models=self._models[self._model_key(config)], on_step=on_step)

    def write(self, folder: Path, result: Result) -> Mapping[str, Path]:
        from generator.outputs import write_piece

        return write_piece(folder, result)

    def release(self) -> None:
        self._models.clear()
        empty_cuda_cache()


def empty_cuda_cache() -> None:
    gc.collect()
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def is_oom(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, oom)


