"""The themes as JSON: the reflection and facts each piece of a theme is shown with."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, HTTPException

from curation.catalog import PUBLIC_STATUSES, Catalog, Theme
from curation.public import theme_title
from installation.web.deps import CatalogsDep, SettingsDep
from installation.web.routers.pages import theme_href
from installation.web.schemas import ThemeOut

router = APIRouter(prefix="/api/themes", tags=["themes"])


def _published_counts(cat: Catalog) -> Counter[str]:
    return Counter(p.theme for p in cat.list_pieces(PUBLIC_STATUSES) if p.theme)


def theme_out(theme: Theme, published: int, base_url: str) -> dict[str, Any]:
    return {"name": theme.name, "title": theme_title(theme), "reflection": theme.reflection,
            "facts": theme.facts, "hashtags": list(theme.hashtags), "prompts": list(theme.prompts),
            "pieces": published, "url": base_url + theme_href(theme.name)}


@router.get("", response_model=list[ThemeOut], summary="Every theme, with how many of its pieces are published")
def list_themes(settings: SettingsDep, catalogs: CatalogsDep) -> list[dict[str, Any]]:
    with catalogs.read() as cat:
        counts = _published_counts(cat)
        return [theme_out(t, counts[t.name], settings.base_url) for t in cat.list_themes()]


@router.get("/{name}", response_model=ThemeOut, summary="One theme")
def get_theme(name: str, settings: SettingsDep, catalogs: CatalogsDep) -> dict[str, Any]:
    with catalogs.read() as cat:
        theme = cat.get_theme(name) if 0 < len(name) <= 200 else None
        if theme is None:
            raise HTTPException(404, "There is no theme by this name.")
        return theme_out(theme, _published_counts(cat)[theme.name], settings.base_url)
