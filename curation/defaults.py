"""Which curators decide when nobody says: one place for `dstrtd curate`, `dstrtd studio` and the worker, torch-free so
every parser shows these defaults in `--help`.

Curators with random weights (`tiny`, `MODEL:random`) give scores that mean nothing; they may decide pieces only when
the caller says so explicitly (`allow_random`, `--random-curators`): the demo and the tests do, a studio never does by
default.
"""

from __future__ import annotations

from curation.errors import CurationError

# why: the LAION aesthetic predictor reads OpenAI ViT-B/32 embeddings, the default preset's perceptor; with the
# aligner on the same CLIP model each image goes through CLIP once for both curators
DEFAULT_SCORER = "laion-vit-b-32"
DEFAULT_ENCODER = "ViT-B-32:openai"
SCORER_HELP = ("aesthetic scorer: a public head (laion-vit-b-32, ...), a trained scorer's folder, or tiny (random "
               "weights: the demo and tests only)")
ENCODER_HELP = ("aligner encoder: an open_clip MODEL:PRETRAINED, a weights file or folder, or tiny (random weights: "
                "the demo and tests only)")
RANDOM_HELP = ("let curators with random weights (tiny, MODEL:random) decide: the demo and tests only (their scores "
               "mean nothing)")
RANDOM_SCORERS = frozenset({"tiny"})


class RandomCurators(CurationError):
    """Curators with random weights were about to decide a studio's pieces without being allowed to."""


def random_specs(scorer: str, encoder: str) -> list[str]:
    """The curators among `scorer` and `encoder` that would run with random weights, as "NAME (role)"."""
    found = []
    if scorer.strip() in RANDOM_SCORERS:
        found.append(f"{scorer} (scorer)")
    spec = encoder.strip()
    if spec == "tiny" or spec.endswith(":random"):
        found.append(f"{encoder} (encoder)")
    return found


def check_curators(scorer: str, encoder: str, *, allow_random: bool = False) -> None:
    """Raise `RandomCurators`, with the fix, when a curator has random weights and `allow_random` is off."""
    found = random_specs(scorer, encoder)
    if found and not allow_random:
        has = "has" if len(found) == 1 else "have"
        raise RandomCurators(
            f"{' and '.join(found)} {has} random weights, whose scores mean nothing, yet would accept and reject "
            f"this studio's pieces; use real curators (the defaults: --scorer {DEFAULT_SCORER} --encoder "
            f"{DEFAULT_ENCODER}; offline, `dstrtd weights fetch clip_vit_b_32_openai` first), or add "
            "--random-curators for a demo or a test")
