"""Seed 000's "logits per text" scorer head: CLIP's own text side against ten rating prompts.

The head holds the text embeddings P (10, D) of ten rating prompts ("a photo rated 1 out of 10" ... "10 out of 10"),
computed once by the CLIP text tower that belongs to the image tower, and CLIP's temperature s. For image
embeddings E (B, D)

    logits_per_text = s * normalize(P) @ normalize(E).T        (10, B), as CLIP computes them
    probs = softmax(logits_per_text.T, dim=-1)                (B, 10), a distribution over ratings 1..10

and the score is its mean, so the head plugs into the same losses (EMD on the distribution, MSE/L1/mixed on the
mean), trainer and schedules as `DistributionHead`. The prompt embeddings are a parameter initialised from the text
tower (`learn_prompts=True`, the default) or a fixed buffer; s is always learnt, clamped at 100 as in CLIP. The text
tower itself is not kept: checkpoints hold P and log s, and `scorer.json` records the prompts and the text model.

    scorer = build_text_scorer("tiny")                              # or "ViT-B-32:openai"
    scorer.save("runs/x/scorer"); load_scorer("runs/x/scorer")     # loaded like any head (`curation.scorer.checkpoint`)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from curation.scorer.errors import ScorerError
from curation.scorer.heads import ConfiguredHead
from curation.scorer.model import AestheticScorer
from curation.scorer.ratings import N_BINS, check_embeddings, distribution_mean
from curation.scorer.tower import ClipImageTower, TowerConfig, build_tower, load_tower_perceptor
from generator.common.fields import known_keys
from generator.perceptors import TINY, build_tiny

TEXT_HEAD_TYPE = "logits-per-text"
RATING_TEMPLATE = "a photo rated {} out of 10"
DEFAULT_RATING_PROMPTS: tuple[str, ...] = tuple(RATING_TEMPLATE.replace("{}", str(k)) for k in range(1, N_BINS + 1))

# why: CLIP clamps its learnt temperature at 100 so that logits stay in a range where softmax keeps gradients
MAX_LOGIT_SCALE = 100.0
# why: open_clip's initial temperature 1/0.07; used where the text model has no trained one (the tiny tower)
INIT_LOGIT_SCALE = 1.0 / 0.07

def rating_prompts(spec: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """Ten rating prompts, for ratings 1..10 in order.

    None or empty -> `DEFAULT_RATING_PROMPTS`; a string with "{}" -> that template formatted with 1..10; another
    string -> prompts separated by "|"; a sequence -> those prompts. Anything but ten non-empty prompts raises.
    """
    if spec is None or (not isinstance(spec, str) and len(spec) == 0) or spec == "":
        return DEFAULT_RATING_PROMPTS
    if isinstance(spec, str):
        prompts = [spec.replace("{}", str(k)) for k in range(1, N_BINS + 1)] if "{}" in spec else spec.split("|")
    else:
        prompts = list(spec)
    prompts = [str(p).strip() for p in prompts]
    if len(prompts) != N_BINS or not all(prompts):
        raise ScorerError(f"need {N_BINS} non-empty rating prompts (ratings 1..{N_BINS} in order), got "
                          f"{len(prompts)}: {prompts!r}; give a template with '{{}}' such as {RATING_TEMPLATE!r} "
                          "or ten prompts separated by '|'")
    return tuple(prompts)


@dataclass(frozen=True)
class TextHeadConfig:
    """A logits-per-text head: `prompts` (ten, ratings 1..10) embedded by `text_model`'s text tower."""

    in_dim: int
    prompts: tuple[str, ...] = DEFAULT_RATING_PROMPTS
    text_model: str = "tiny"  # whose text tower embedded the prompts: "tiny" or "MODEL:PRETRAINED" (provenance)
    learn_prompts: bool = True  # False: the prompt embeddings stay as the text tower gave them (a buffer)
    init_logit_scale: float = INIT_LOGIT_SCALE  # the text model's trained temperature where it has one

    def __post_init__(self) -> None:
        if len(self.prompts) != N_BINS:
            raise ScorerError(f"a logits-per-text head needs {N_BINS} prompts (ratings 1..{N_BINS}), got "
                              f"{len(self.prompts)}")
        if not (0 < self.init_logit_scale <= MAX_LOGIT_SCALE):
            raise ScorerError(f"init_logit_scale must be in (0, {MAX_LOGIT_SCALE}], got {self.init_logit_scale}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["prompts"] = list(self.prompts)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TextHeadConfig:
        values = known_keys(data, cls, ScorerError, "logits-per-text head config keys")
        if "prompts" in values:
            values["prompts"] = tuple(str(p) for p in values["prompts"])
        return cls(**values)


class LogitsPerTextHead(ConfiguredHead[TextHeadConfig]):
    """Image embeddings (B, D) -> (B, 10) softmax over CLIP's logits against the ten rating prompts.

    `prompt_embeddings` (10, D) is a parameter (or, with `learn_prompts=False`, a persistent buffer) and
    `logit_scale` holds log s, as in CLIP. A new head's prompt embeddings are zero until `set_prompt_embeddings`
    or `load_state_dict` fills them.
    """

    kind: ClassVar[str] = TEXT_HEAD_TYPE
    config_class = TextHeadConfig

    def __init__(self, config: TextHeadConfig) -> None:
        super().__init__()
        self.config = config
        init = torch.zeros(N_BINS, config.in_dim)
        if config.learn_prompts:
            self.prompt_embeddings = nn.Parameter(init)
        else:
            self.register_buffer("prompt_embeddings", init)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(config.init_logit_scale)))

    @torch.no_grad()
    def set_prompt_embeddings(self, embeddings: torch.Tensor) -> None:
        """Copy the text tower's embeddings (10, D) of the prompts in."""
        if tuple(embeddings.shape) != (N_BINS, self.config.in_dim):
            raise ValueError(f"expected prompt embeddings of shape ({N_BINS}, {self.config.in_dim}), got "
                             f"{tuple(embeddings.shape)}")
        self.prompt_embeddings.copy_(embeddings)

    def scale(self) -> torch.Tensor:
        return self.logit_scale.exp().clamp(max=MAX_LOGIT_SCALE)

    def logits_per_text(self, embeddings: torch.Tensor) -> torch.Tensor:
        """CLIP's logits (10, B): the scaled cosine of each rating prompt with each image embedding."""
        check_embeddings(embeddings, self.config.in_dim)
        images = F.normalize(embeddings, dim=-1)
        prompts = F.normalize(self.prompt_embeddings, dim=-1)
        return self.scale() * prompts @ images.T

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, 10): `logits_per_text` transposed, one row per image."""
        return self.logits_per_text(embeddings).T

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.logits(embeddings).softmax(dim=-1)

    def score(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Mean rating (B,) of the distribution over the prompts, in [1, 10] by construction."""
        return distribution_mean(self(embeddings))


@torch.no_grad()
def encode_prompts(tower: TowerConfig, prompts: Sequence[str], perceptor: Any | None = None
                   ) -> tuple[torch.Tensor, float, str]:
    """Text embeddings (10, D) of `prompts` by the text tower that belongs to this image tower, that model's
    temperature, and the text model's name.

    "tiny" (and custom towers): the text tower of the seeded tiny CLIP (`generator.perceptors.build_tiny`, its
    embedding as wide as the image tower's): a real BPE vocabulary, so real prompts tokenise, and the same prompt
    embeddings on every machine. "MODEL:PRETRAINED": the text tower of the same weights through
    `generator.perceptors` (its registry, cache and offline rules). A random named tower ("ViT-B-32") gets a random
    text tower of that model. `perceptor`: that CLIP model already loaded
    (`curation.scorer.tower.load_tower_perceptor`), so it is not loaded a second time.
    """
    if tower.model == TINY or tower.vision_cfg is not None:
        return build_tiny(embed_dim=tower.embed_dim).encode_text(list(prompts)), INIT_LOGIT_SCALE, TINY
    name = f"{tower.model}:{tower.pretrained or 'random'}"
    if perceptor is None:
        from generator.perceptors import load_perceptor

        perceptor = load_perceptor(name, device="cpu")
    emb = perceptor.encode_text(list(prompts)).float()
    trained_scale = getattr(perceptor.model, "logit_scale", None) if tower.pretrained else None
    scale = float(trained_scale.exp().clamp(max=MAX_LOGIT_SCALE)) if trained_scale is not None else INIT_LOGIT_SCALE
    if emb.shape[1] != tower.embed_dim:
        raise ScorerError(f"text tower of {name} gives {emb.shape[1]}-d embeddings, image tower {tower.embed_dim}-d")
    return emb, scale, name


def build_text_head(tower: ClipImageTower, prompts: str | Sequence[str] | None = None,
                    learn_prompts: bool = True, *, perceptor: Any | None = None) -> LogitsPerTextHead:
    """A logits-per-text head for this image tower, its prompt embeddings from the matching text tower (from
    `perceptor` when the caller has already loaded that CLIP model)."""
    resolved = rating_prompts(prompts)
    emb, scale, text_model = encode_prompts(tower.config, resolved, perceptor)
    head = LogitsPerTextHead(TextHeadConfig(in_dim=tower.embed_dim, prompts=resolved, text_model=text_model,
                                            learn_prompts=learn_prompts, init_logit_scale=scale))
    head.set_prompt_embeddings(emb)
    return head


def build_text_scorer(tower: str | TowerConfig = "tiny", prompts: str | Sequence[str] | None = None, *,
                      learn_prompts: bool = True, name: str = "scorer", version: str = "0",
                      device: torch.device | str = "cpu") -> AestheticScorer:
    """A new scorer: image tower `tower` (see `build_tower`) + a logits-per-text head on its own text tower."""
    perceptor = load_tower_perceptor(tower)  # why: one load serves the image and the text tower
    built = build_tower(tower, perceptor=perceptor)
    head = build_text_head(built, prompts, learn_prompts, perceptor=perceptor)
    return AestheticScorer(built, head, name=name, version=version).to(device)

