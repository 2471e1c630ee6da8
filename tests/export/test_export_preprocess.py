"""The exported model's preprocessing metadata matches the model's ``data.resize``/``data.color``,
and the README's ``model_input`` recipe, fed that metadata, gives mlpcli's own pixels.

Watched failing before the fix: the metadata had no ``preprocess`` and the same squash text for
every policy. With the recipe broken on purpose (pad offsets rounded instead of floored; the
JPEG draft left out; gray converted before the resize), ``test_readme_recipe_gives_mlpclis_pixels``
failed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx_models import images, mlp_predictor  # noqa: E402  (after the importorskip above)
from PIL import Image  # noqa: E402  (after the importorskip above)

from mlpcli.data.images import load_image  # noqa: E402  (after the importorskip above)
from mlpcli.data.shape import Preprocess  # noqa: E402  (after the importorskip above)
from mlpcli.export import export_onnx  # noqa: E402  (after the importorskip above)

README = Path(__file__).parents[2] / "README.md"
SPECS = [
    Preprocess((12, 10), resize, color, fill)
    for resize, fill in (("squash", 0), ("center_crop", 0), ("pad", 37))
    for color in ("rgb", "gray")
]


def spec_id(spec: Preprocess) -> str:
    return f"{spec.resize}-{spec.color}"


def exported_metadata(tmp_path, spec: Preprocess) -> dict:
    model = mlp_predictor(images(20, size=spec.size))
    model.preprocess = spec
    export_onnx(model, tmp_path / "m.onnx")
    return {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_metadata_states_the_models_preprocessing(tmp_path, spec):
    meta = exported_metadata(tmp_path, spec)
    assert json.loads(meta["preprocess"]) == {
        "size": [12, 10],
        "resize": spec.resize,
        "color": spec.color,
        "pad_fill": spec.pad_fill,
    }
    text = meta["resize"]
    assert "exif_transpose" in text and "BILINEAR" in text and "draft" in text
    assert ("convert('L')" in text) == (spec.color == "gray")
    assert ("aspect ratio not kept" in text) == (spec.resize == "squash")
    assert ("box=" in text) == (spec.resize == "center_crop")
    assert ("Image.new('RGB', (10, 12), (37, 37, 37))" in text) == (spec.resize == "pad")


def readme_recipe():
    """The README's ``model_input`` function, run as a user would copy it."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    (block,) = [b for b in blocks if "def model_input" in b]
    namespace: dict = {}
    exec(block.split("\nsession = ")[0], namespace)
    return namespace["model_input"]


def sample_files(folder: Path) -> list[Path]:
    """A wide and a tall PNG (the tall one with alpha), a squarish one padded by 1.5 rows a side
    (floor or round tells), one already 10x12, a large JPEG that EXIF says to turn (so the draft
    and the swap matter), a small JPEG."""
    rng = np.random.default_rng(0)
    folder.mkdir()

    def pixels(h, w, c=3):
        return rng.integers(0, 256, (h, w, c), dtype=np.uint8)

    Image.fromarray(pixels(17, 41)).save(folder / "wide.png")
    Image.fromarray(pixels(33, 15, 4), "RGBA").save(folder / "tall.png")
    Image.fromarray(pixels(36, 40)).save(folder / "squarish.png")
    Image.fromarray(pixels(12, 10)).save(folder / "exact.png")
    smooth = np.clip(np.linspace(0, 255, 150)[None, :, None] + pixels(90, 150) // 4, 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(smooth).save(folder / "turned.jpg", exif=exif, quality=90)
    Image.fromarray(pixels(14, 23)).save(folder / "small.jpg")
    return sorted(folder.iterdir())


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_readme_recipe_gives_mlpclis_pixels(tmp_path, spec):
    """The recipe fed the exported metadata, against ``load_image``: equal bytes."""
    model_input = readme_recipe()
    meta = json.loads(exported_metadata(tmp_path, spec)["preprocess"])
    for path in sample_files(tmp_path / "files"):
        expected = load_image(path, spec)
        assert expected.shape == (12, 10, 3)
        np.testing.assert_array_equal(model_input(path, meta), expected, err_msg=path.name)
