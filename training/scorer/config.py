"""The settings of one scorer training run. Each field carries its command-line help (`dstrtd train scorer` derives
its options from them); torch-free, so building the CLI's parser loads nothing heavy.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from generator.common.errors import DstrtdError
from generator.common.fields import known_keys, setting
from training.errors import TrainingError

# "distribution": Linear/MLP -> softmax over 1..10 (default); "logits-per-text": seed 000's variant, CLIP's logits
# against ten rating prompts (curation.scorer.text_head)
Head = Literal["distribution", "logits-per-text"]
HEADS: tuple[str, ...] = get_args(Head)
# Settings that may differ between a run and its resumption; every other setting must match.
RESUMABLE_OVERRIDES = frozenset({"out", "device", "num_workers", "max_steps", "checkpoint_every_steps"})
# Settings added after runs were first saved; a saved run without them used their defaults.
ADDED_SETTINGS = frozenset({"head", "rating_prompts", "learn_prompts"})


def parse_widths(text: str) -> tuple[int, ...]:
    """'64,32' -> (64, 32); '' -> () (a linear head)."""
    return tuple(int(x) for x in text.split(",") if x.strip())


def parse_rating_prompts(spec: str) -> tuple[str, ...]:
    """'a photo rated {} out of 10' -> ten prompts; 'p1|p2|...|p10' -> those (see
    `curation.scorer.text_head.rating_prompts`)."""
    from curation.scorer.text_head import rating_prompts

    try:
        return rating_prompts(spec)
    except DstrtdError as exc:  # argparse reports this one with its message, as a usage error
        raise argparse.ArgumentTypeError(str(exc)) from None


@dataclass(frozen=True)
class TrainConfig:
    data: str = setting(help="ratings .csv/.jsonl (image + score or votes 1..10 [+ theme, source, split]) or a folder "
                             "<root>/<rating 1-10>/*.png", show="required unless --resume")
    out: str = setting(help="run folder")
    tower: str = setting("tiny", "image tower: tiny (random, small), an open_clip model (ViT-B-32: random weights) or "
                                 "MODEL:PRETRAINED (ViT-B-32:openai, ViT-L-14:openai, MODEL:/path/to/weights)")
    schedule: str = setting("seed000", "named schedule (see --list-schedules) or a .json file")
    epochs_scale: float = setting(1.0, "multiply every stage's epochs (0.5: half the recipe)")
    batch_size: int = setting(32, "images per step")
    val_fraction: float = setting(0.1, "share held out for validation when the data has no split column")
    seed: int = setting(0, "seed of the split, the data order and the initial weights")
    device: str = setting("auto", "auto, cpu, cuda, cuda:N or mps")
    num_workers: int = setting(0, "image-loading worker processes")
    head_hidden: tuple[int, ...] = setting((), "hidden widths of the head's MLP, comma-separated", parse=parse_widths,
                                           metavar="W[,W...]", show="a linear head")
    head_dropout: float = setting(0.0, "dropout between the layers of the head's MLP")
    head: Head = setting("distribution", "distribution: a linear/MLP head with a softmax over ratings 1..10; "
                                         "logits-per-text: seed 000's variant, a softmax over CLIP's logits against "
                                         "ten rating prompts")
    rating_prompts: tuple[str, ...] = setting((), "logits-per-text: a template with {} for the rating or ten prompts "
                                                  "for ratings 1..10 separated by |", parse=parse_rating_prompts,
                                              metavar="PROMPTS", show="'a photo rated {} out of 10'")
    learn_prompts: bool = setting(True, "logits-per-text: let the prompt embeddings learn, or keep them as the text "
                                        "tower gave them")
    init_head: str | None = setting(None, "start the head from a public head trained on this tower's embeddings: a "
                                          "registry name (laion-vit-b-32, simulacra-vit-b-32, improved-l14, ...), a "
                                          ".pth file, or auto (the LAION head for this tower)")
    head_warmup_epochs: int = setting(0, "seed 001: train only the head (tower frozen) for this many epochs before "
                                         "the schedule")
    head_warmup_lr: float = setting(1e-3, "learning rate of the head-only warm-up epochs")
    group_column: str | None = setting(None, "balance the loss over the groups of this column (theme, source, ...)")
    group_power: float = setting(1.0, "1: every group weighs the same; 0.5: half-way; 0: no balancing")
    grad_clip: float | None = setting(None, "clip the gradient norm (the seed recipe does not clip)")
    skip_missing: bool = setting(False, "skip rows whose image file does not exist (off: stop and list them)")
    checkpoint_every_steps: int = setting(0, "also checkpoint inside epochs every N steps (0: at epoch ends only)")
    max_steps: int | None = setting(None, "stop (with a checkpoint) after this many steps in total")
    name: str | None = setting(None, "the scorer's name", show="the run folder's name")

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise TrainingError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise TrainingError(f"val_fraction is the share held out, in [0, 1) (0.1 holds out a tenth), got "
                                f"{self.val_fraction}")
        if self.max_steps is not None and self.max_steps < 0:
            raise TrainingError(f"max_steps must be >= 0, got {self.max_steps}")
        if self.head not in HEADS:
            raise TrainingError(f"unknown head {self.head!r}; known: {', '.join(HEADS)}")
        if self.rating_prompts and (len(self.rating_prompts) != 10 or not all(p.strip() for p in self.rating_prompts)):
            raise TrainingError(f"rating_prompts must be ten non-empty prompts for ratings 1..10, got "
                                f"{len(self.rating_prompts)}: {list(self.rating_prompts)!r}")
        if self.head != "logits-per-text" and (self.rating_prompts or not self.learn_prompts):
            raise TrainingError("rating_prompts and learn_prompts belong to the logits-per-text head; add "
                                "--head logits-per-text or drop them")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["head_hidden"] = list(self.head_hidden)
        data["rating_prompts"] = list(self.rating_prompts)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        values = known_keys(data, cls, TrainingError, "training settings")
        values["head_hidden"] = tuple(values.get("head_hidden", ()))
        values["rating_prompts"] = tuple(values.get("rating_prompts", ()))
        return cls(**values)
