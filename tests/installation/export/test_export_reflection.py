"""A piece's own reflection in its social post: recorded in post.json; the caption keeps seed 004's format, which has
no reflection line (neither the theme's nor the piece's)."""

from __future__ import annotations

import json
from pathlib import Path

from installation.export.config import SocialConfig
from installation.export.social import export_social

THEIRS = "This is what a coral reef looks like for a computer. Is your perception distorted?"
MINE = "Bleached at noon.\n\nThe fish have left."


def test_post_carries_the_pieces_own_reflection_else_the_themes(catalog, add_piece, out_dir: Path) -> None:
    own, plain = add_piece(catalog), add_piece(catalog)
    catalog.set_reflection(own.id, MINE)
    results = export_social(catalog, [catalog.get_piece(own.id), plain], out_dir, SocialConfig())
    assert all(r.ok for r in results), [r.error for r in results]
    post = json.loads((out_dir / own.slug / "post.json").read_text())
    other = json.loads((out_dir / plain.slug / "post.json").read_text())
    assert (post["reflection"], other["reflection"]) == (MINE, THEIRS)
    assert post["caption"] == other["caption"]  # the seed's caption: the same words for both pieces
    assert "Bleached" not in post["caption"] and THEIRS not in post["caption"]
    assert post["caption"].startswith("This image was created by Artificial Intelligence.")
