"""The public aesthetic heads we know by name (`public_heads/registry.json`), and fetching their files into the cache.

Nothing downloads unless a name that needs a download is asked for, and then only through `generator.weights` into
$DSTRTD_CACHE/aesthetic_heads (else ~/.cache/dstrtd/aesthetic_heads), checked against the registry's sha256.
"""

from __future__ import annotations

import json
import logging
import urllib.error
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from curation.scorer.errors import ScorerError, ScorerWeightsUnavailable
from generator.common.errors import DstrtdError
from generator.common.files import sha256_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublicHeadEntry:
    name: str
    format: str
    file: str
    url: str
    sha256: str
    size: int
    licence: str
    source: str
    clip: str
    in_dim: int
    description: str = ""
    aliases: tuple[str, ...] = ()


def public_heads() -> dict[str, PublicHeadEntry]:
    """The registry in curation/scorer/public_heads/registry.json, by name."""
    text = resources.files("curation.scorer").joinpath("public_heads/registry.json").read_text(encoding="utf-8")
    out = {}
    for name, entry in json.loads(text).items():
        out[name] = PublicHeadEntry(name=name, **{**entry, "aliases": tuple(entry.get("aliases", ()))})
    return out


def public_head_entry(name: str) -> PublicHeadEntry:
    heads = public_heads()
    for entry in heads.values():
        if name == entry.name or name in entry.aliases:
            return entry
    known = sorted([*heads, *(a for e in heads.values() for a in e.aliases)])
    raise ScorerError(f"unknown aesthetic head {name!r}; known: {', '.join(known)}")


def heads_cache_dir() -> Path:
    """Where fetched public heads live: $DSTRTD_CACHE/aesthetic_heads (else ~/.cache/dstrtd/aesthetic_heads)."""
    from generator import weights

    return weights.cache_dir() / "aesthetic_heads"


def fetch_public_head(name: str) -> Path:
    """Path of a registry head in the cache, downloaded (resumable, sha256-checked) first if needed.

    Downloads go through `generator.weights.download` and are off when `generator.weights.is_offline()`
    (DSTRTD_OFFLINE=1 or HF_HUB_OFFLINE=1); the error then says where to put the file.
    """
    from generator import weights

    entry = public_head_entry(name)
    target = heads_cache_dir() / entry.file
    if target.is_file():
        if sha256_file(target) == entry.sha256:
            return target
        log.warning("cached %s has the wrong sha256; fetching it again", target)
        target.unlink()
    where = (f"download {entry.url} (sha256 {entry.sha256}) and put it at {target}, or pass the file's path "
             "instead of the name")
    if weights.is_offline():
        raise ScorerWeightsUnavailable(f"aesthetic head {entry.name!r} is not on this machine and downloads are off "
                                 f"(DSTRTD_OFFLINE/HF_HUB_OFFLINE): {where}")
    log.info("downloading aesthetic head %s from %s", entry.name, entry.url)
    try:
        return weights.download(entry.url, target, sha256=entry.sha256)
    except (OSError, urllib.error.URLError) as exc:
        raise ScorerWeightsUnavailable(
            f"aesthetic head {entry.name!r} could not be downloaded ({exc}): {where}") from exc
    except DstrtdError as exc:  # generator's WeightsUnavailable (wrong sha256): already says what to do
        raise ScorerWeightsUnavailable(str(exc)) from exc
