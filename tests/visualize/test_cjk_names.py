"""CJK class names (issue 21 item 8): text tables align by display width, and pictures draw such
labels with a font that has them, or warn once naming what to install. This machine has no CJK
font, so the font tests stand in DejaVu Sans through MLPCLI_FONT: they show which font is
chosen, not that a real CJK font draws the glyphs. Each failed before the fix (verified: tables
used len, labels always used Pillow's default font)."""

import logging
import unicodedata

import numpy as np
import pytest
from PIL import ImageDraw, ImageFont

from mlpcli.cli.text import display_width, print_report
from mlpcli.visualize import fonts, tiles

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def report(names):
    n = len(names)
    return {
        "accuracy": 0.5,
        "n": 4 * n,
        "balanced_accuracy": 0.5,
        "macro_f1": 0.5,
        "log_loss": 1.0,
        "class_names": names,
        "confusion": np.eye(n, dtype=int).tolist(),
        "per_class": [{"class": name, "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 4} for name in names],
    }


def width(text: str) -> int:
    """Terminal columns, counted here independently of the code under test."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def columns(line: str, upto: str) -> int:
    return width(line[: line.index(upto)])


def test_tables_align_cjk_and_latin_class_names(capsys):
    names = ["猫", "ｄｏｇ", "frog", "カエル"]
    print_report(report(names))
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.split(" ")[0] in names and "0.5000" in line]
    assert len(rows) == 4 and len({columns(line, "0.5000") for line in rows}) == 1
    matrix = lines[lines.index("confusion matrix (rows: true class, columns: predicted)") + 1 :]
    assert len(matrix) == 4 and len({width(line) for line in matrix}) == 1  # same counts, same end


def test_display_width_counts_wide_characters_twice():
    assert display_width("猫") == 2 and display_width("ｃａｔ") == 6 and display_width("cat") == 3
    assert display_width(unicodedata.normalize("NFD", "é")) == 1


@pytest.fixture
def fresh_fonts(monkeypatch):
    fonts._cjk_font.cache_clear()
    fonts._warn_once.cache_clear()
    yield monkeypatch
    fonts._cjk_font.cache_clear()
    fonts._warn_once.cache_clear()


@pytest.mark.skipif(not __import__("os").path.isfile(DEJAVU), reason="needs DejaVu Sans as a stand-in")
def test_a_cjk_label_is_drawn_with_the_font_found(fresh_fonts):
    fresh_fonts.setenv("MLPCLI_FONT", DEJAVU)
    font = tiles.label_font("猫")
    assert isinstance(font, ImageFont.FreeTypeFont) and font.path == DEJAVU
    assert getattr(tiles.label_font("cat"), "path", None) != DEJAVU
    used = []
    draw_text = ImageDraw.ImageDraw.text
    fresh_fonts.setattr(
        ImageDraw.ImageDraw,
        "text",
        lambda self, xy, text, *a, font=None, **k: (
            used.append((text, getattr(font, "path", None))),
            draw_text(self, xy, text, *a, font=font, **k),
        ),
    )
    tiles.labelled_grid([np.zeros((4, 4))] * 2, ["猫", "cat"], 8, 2)
    assert used[0] == ("猫", DEJAVU) and used[1][0] == "cat" and used[1][1] != DEJAVU


def test_without_a_cjk_font_one_warning_says_what_to_install(fresh_fonts, caplog):
    fresh_fonts.delenv("MLPCLI_FONT", raising=False)
    fresh_fonts.setattr(fonts, "CJK_FONTS", ())
    with caplog.at_level(logging.WARNING, logger="mlpcli"):
        for _ in range(3):
            assert fonts.font_for(["猫"]) is None
    warnings = [r.getMessage() for r in caplog.records if "drawn as boxes" in r.getMessage()]
    assert len(warnings) == 1 and "fonts-noto-cjk" in warnings[0]
