"""The fonts every rendering can rely on, whatever the machine has installed.

A chart's text must render on a clean server with no system fonts at all, in the scripts our
users write: Latin, Cyrillic, Greek, Arabic, Hebrew, Indic scripts and CJK. vl-convert bundles
Liberation Sans (Latin, Cyrillic, Greek) as its ``sans-serif``; everything else comes from the
Kurinto Sans family (SIL Open Font Licence 1.1), which the ``weblate-fonts`` package on PyPI
ships as TTF files: ``KurintoSans`` covers the alphabetic scripts, ``KurintoSansJP/SC/TC/KR``
add CJK. We register that directory with vl-convert; its text layout (resvg) falls back to a
registered face for any character the chosen font lacks, and its PDF writer embeds a subset of
each face used, so the glyphs travel with the document.

We do *not* name Kurinto in the charts' ``config.font``: making a 10 MB CJK face the primary
font makes every conversion five times slower, while the fallback costs only the texts that
need it.
"""

from __future__ import annotations

import importlib.resources
import logging
import threading
from pathlib import Path
from typing import Final

import vl_convert as vlc

log = logging.getLogger(__name__)

FONT_PACKAGE: Final = "weblate_fonts"
"""The import name of the PyPI package ``weblate-fonts`` (OFL-1.1)."""

_KURINTO_TTF: Final = ("static", "weblate_fonts", "kurinto", "ttf")

_lock = threading.Lock()
_registered: Path | None = None


def bundled_font_directory() -> Path | None:
    """The directory of the Kurinto TTF files, or ``None`` when the package is missing."""
    try:
        root = importlib.resources.files(FONT_PACKAGE)
    except ModuleNotFoundError:
        return None
    directory = Path(str(root.joinpath(*_KURINTO_TTF)))
    return directory if any(directory.glob("*.ttf")) else None


def register_bundled_fonts() -> Path | None:
    """Register the bundled fonts with vl-convert once per process; return their directory.

    Safe to call from any thread, any number of times. When the font package is absent the
    charts still render: Latin, Cyrillic and Greek in vl-convert's own font, other scripts as
    empty boxes. That is logged, not raised: a missing font must not take the API down.
    """
    global _registered  # noqa: PLW0603  # one registration per process, by design
    with _lock:
        if _registered is not None:
            return _registered
        directory = bundled_font_directory()
        if directory is None:
            log.warning(
                "font package %r is not installed: non-Latin text will not render", FONT_PACKAGE
            )
            return None
        vlc.register_font_directory(str(directory))
        _registered = directory
        return directory
