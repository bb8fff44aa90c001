"""One APIRouter per resource: pages, media (images), pieces and themes (JSON), control (token)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter

F = TypeVar("F", bound=Callable[..., Any])


def get_and_head(router: APIRouter, path: str, **kwargs: Any) -> Callable[[F], F]:
    """Like `router.get`, answering HEAD too (link previews and QR scanner apps check an address with HEAD first);
    the HEAD twin stays out of the OpenAPI schema, where it would repeat the GET."""

    def decorate(func: F) -> F:
        router.add_api_route(path, func, methods=["HEAD"], include_in_schema=False, **kwargs)
        return router.get(path, **kwargs)(func)

    return decorate
