"""`dstrtd web`: serve the public pages behind the QR codes, the JSON API and the token-guarded control endpoints."""

from __future__ import annotations

import argparse
import logging

from installation.commands._common import add_studio_argument

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_studio_argument(parser)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1; 0.0.0.0 listens on every interface)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument("--base-url", default=None,
                        help="the address visitors use, as the QR codes encode it (<base-url>/p/<slug>); used in "
                             "share links. Its path is the sub-path behind a reverse proxy: with "
                             "https://museum.example/dstrtd every link starts with /dstrtd, and requests are answered "
                             "with or without that prefix, so the proxy may strip it or pass it on (no --root-path "
                             "needed) (default: $DSTRTD_BASE_URL, else http://localhost:8000)")
    parser.add_argument("--trusted-proxies", dest="trusted_proxies", nargs="+", default=[], metavar="ADDRESS",
                        help="reverse proxies whose X-Forwarded-For header names the visitor, as addresses or "
                             "networks (127.0.0.1, 10.0.0.0/8, ::1; commas allowed). Requests from anywhere else are "
                             "taken as they come, header or not (default: none)")
    parser.add_argument("--token", default=None,
                        help="token for the control endpoints (default: $DSTRTD_WEB_TOKEN; without one they are "
                             "disabled). Prefer the variable: other users of the machine can read a command line")


def settings_from_args(args: argparse.Namespace):  # -> WebSettings, imported lazily
    from curation.public import base_url
    from curation.studio import open_studio
    from installation.web.settings import WebSettings, token_from_env

    studio = open_studio(args.studio, args.catalog)
    return WebSettings(studio=studio.root, base_url=base_url(args.base_url), token=token_from_env(args.token),
                       trusted_proxies=tuple(args.trusted_proxies), catalog=studio.catalog_url)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from curation.public import piece_url
    from installation.web import create_app
    from installation.web.settings import WebSettingsError

    if not 0 < args.port < 65536:
        raise WebSettingsError(f"--port must be between 1 and 65535, not {args.port}")
    settings = settings_from_args(args)
    if settings.token is not None and len(settings.token) < 16:
        log.warning("the control token is short (%d characters); anyone who guesses it can steer the installation",
                    len(settings.token))
    log.info("public pages of %s at http://%s:%d (visitors: %s)", settings.studio, args.host, args.port,
             piece_url("<slug>", settings.base_url))
    if settings.root_path:
        log.info("links start with %s; the proxy may strip that prefix or pass it on", settings.root_path)
    if settings.trusted_proxies:
        log.info("X-Forwarded-For is believed from %s only", ", ".join(settings.trusted_proxies))
    # why proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 by itself; the app
    # decides, from --trusted-proxies only (installation.web.proxies)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info", server_header=False,
                log_config=None, proxy_headers=False)
    return 0
