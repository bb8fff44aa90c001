"""Shared by the scorer tests: the real public head files under ../shared/data and LAION's rating-bucket embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

# registry name -> (file under ../shared/data/aesthetic_heads, LAION bucket embeddings for its CLIP space or None)
SHARED_HEADS = {
    "laion-vit-b-32": ("laion/sa_0_4_vit_b_32_linear.pth", "vit_b_32"),
    "laion-vit-b-16": ("laion/sa_0_4_vit_b_16_linear.pth", None),
    "laion-vit-l-14": ("laion/sa_0_4_vit_l_14_linear.pth", "vit_l_14"),
    "simulacra-vit-b-32": ("simulacra/sac_public_2022_06_29_vit_b_32_linear.pth", "vit_b_32"),
    "simulacra-vit-b-16": ("simulacra/sac_public_2022_06_29_vit_b_16_linear.pth", None),
    "simulacra-vit-l-14": ("simulacra/sac_public_2022_06_29_vit_l_14_linear.pth", "vit_l_14"),
    "improved-l14": ("improved/sac+logos+ava1-l14-linearMSE.pth", "vit_l_14"),
}


@pytest.fixture()
def heads_dir(shared_data):
    folder = shared_data / "aesthetic_heads"
    if not folder.is_dir():
        pytest.skip("../shared/data/aesthetic_heads is absent")
    return folder


def bucket_embeddings(heads_dir, space: str) -> torch.Tensor:
    """LAION's mean CLIP embedding of each human-rating bucket 0..9 -> (10, D)."""
    arrays = [np.load(heads_dir / "laion" / f"{space}_embeddings" / f"rating{i}.npy") for i in range(10)]
    return torch.from_numpy(np.concatenate(arrays)).float()
