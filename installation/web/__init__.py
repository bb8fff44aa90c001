"""The public pages behind the QR codes (FastAPI). Imports only the catalog: no torch.

`create_app(WebSettings(studio=...))` builds the app; `dstrtd web` serves it with uvicorn.
"""

from installation.web.app import create_app
from installation.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]
