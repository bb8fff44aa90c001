"""Server-rendered HTML: `string.Template` files in which every value is escaped unless it is `Safe` already."""

from __future__ import annotations

import hashlib
import html
import string
from collections.abc import Iterable
from functools import cache
from importlib.resources import files


class Safe(str):
    """HTML we built ourselves from escaped parts: `render` inserts it as it is."""

    __slots__ = ()


def escape(value: object) -> Safe:
    return value if isinstance(value, Safe) else Safe(html.escape(str(value), quote=True))


def join(parts: Iterable[object], sep: str = "") -> Safe:
    return Safe(sep.join(escape(p) for p in parts))


@cache
def _template(name: str) -> string.Template:
    return string.Template(files("installation.web.templates").joinpath(name).read_text(encoding="utf-8"))


@cache
def _inline(text: str) -> string.Template:
    return string.Template(text)


def render(name: str, /, **values: object) -> Safe:
    """Fill the template file `name` (in installation/web/templates); a missing value is a KeyError, not a blank."""
    return Safe(_template(name).substitute({k: escape(v) for k, v in values.items()}))


def fragment(text: str, /, **values: object) -> Safe:
    """Fill a small inline template, e.g. fragment('<a href="$href">$text</a>', href=..., text=...)."""
    return Safe(_inline(text).substitute({k: escape(v) for k, v in values.items()}))


@cache
def stylesheet() -> tuple[bytes, str]:
    """The one stylesheet and a short version of it for cache-busting URLs."""
    data = files("installation.web.static").joinpath("style.css").read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:10]


def layout(title: str, main: Safe, *, root: str, description: str = "", meta: Safe = Safe("")) -> Safe:
    """A whole page: the site header and footer around `main`, with the stylesheet and the extra head tags. `root` is
    the sub-path the site is published under ("" at the root of a host, else e.g. "/dstrtd"): every link of the
    frame starts with it."""
    return render("base.html", title=title, description=description, meta=meta, main=main, home=f"{root}/",
                  stylesheet=f"{root}/static/style.css?v={stylesheet()[1]}")


def error_page(status: int, message: str, *, root: str) -> Safe:
    heading = {404: "Nothing here", 400: "That address is not quite right"}.get(status, "Something went wrong")
    return layout(f"{heading} · DSTRTD", render("error.html", heading=heading, message=message, home=f"{root}/"),
                  root=root)
