"""Serving the viewer's files from ``core/ai_core/emulator/static/``: ``/`` is ``index.html``, any other
path is a file under that folder. Generic on purpose: the viewer is dropped in as plain files
(no build step, no CDN), so the emulator works offline.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Optional, Tuple

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Files the viewer is likely to ship whose type mimetypes may not know on every system.
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
          ".html": "text/html", ".svg": "image/svg+xml", ".json": "application/json",
          ".map": "application/json", ".woff2": "font/woff2", ".ico": "image/x-icon"}


def resolve(url_path: str, root: Path = STATIC_DIR) -> Optional[Path]:
    """The file for ``url_path`` (already URL-decoded), or ``None``; never outside ``root``."""
    relative = url_path.lstrip("/") or "index.html"
    if relative.endswith("/"):
        relative += "index.html"
    candidate = (root / relative).resolve()
    try:
        candidate.relative_to(root.resolve())
    except ValueError:  # "..", absolute paths or symlinks out of the folder
        return None
    return candidate if candidate.is_file() else None


def load(path: Path) -> Tuple[bytes, str]:
    """File content and its Content-Type."""
    suffix = path.suffix.lower()
    ctype = _TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if ctype.startswith("text/") or ctype in ("application/json", "image/svg+xml"):
        ctype += "; charset=utf-8"
    with open(path, "rb") as f:
        return f.read(), ctype
