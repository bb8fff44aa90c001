"""Small image-text sets made on the fly: coloured shapes on transparent backgrounds, captioned and labelled."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.contrastive.synthetic import write_shape_pairs


@pytest.fixture(scope="session")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shape_pairs(tmp_path_factory.mktemp("pairs"))


@pytest.fixture()
def tiny_config():
    from training.contrastive.config import load_config

    # 24 pairs: 6 held out, 18 to train on, 2 steps of 8 per epoch
    return load_config("tiny").replace(batch_size=8, epochs=2, val_fraction=0.25, eval_train_max=8, log_every=1,
                                       warmup_epochs=1)
