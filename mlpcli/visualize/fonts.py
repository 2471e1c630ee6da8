"""Fonts for class names in pictures. Pillow's default font and matplotlib's DejaVu Sans have no
CJK glyphs, so a class named 猫 would be drawn as boxes: labels with wide (East Asian) characters
use a CJK font found on the system (or the file ``MLPCLI_FONT`` names), and without one a single
warning says what to install."""

from __future__ import annotations

import os
import unicodedata
from functools import cache
from pathlib import Path

from ..progress import log

#: Where the usual CJK fonts are installed (Debian/Ubuntu, Fedora, Arch, macOS, Windows).
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/YuGothM.ttc",
)
INSTALL_HINT = (
    "install a CJK font (e.g. `apt install fonts-noto-cjk`) or set MLPCLI_FONT to a font file that has these characters"
)


def is_wide(text: str) -> bool:
    """Whether ``text`` has a wide or full-width (East Asian) character."""
    return any(unicodedata.east_asian_width(char) in "WF" for char in text)


def font_for(texts) -> str | None:
    """The font file to draw ``texts`` with: None (the default font) when none has a wide
    character, else ``MLPCLI_FONT`` or the first CJK font installed; None with one warning if
    there is none."""
    if not any(is_wide(text) for text in texts):
        return None
    path = _cjk_font(os.environ.get("MLPCLI_FONT"))
    if path is None:
        _warn_once()
    return path


@cache
def _cjk_font(chosen: str | None) -> str | None:
    candidates = ([chosen] if chosen else []) + list(CJK_FONTS)
    return next((path for path in candidates if Path(path).is_file()), None)


@cache
def _warn_once() -> None:
    log.warning(
        "pictures: class names with CJK characters are drawn as boxes: no font with them was found; %s", INSTALL_HINT
    )
