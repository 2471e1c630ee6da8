"""``mlpcli show`` as a library: summaries and pictures of tiny train, end-to-end and k-fold runs."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlpcli.artifacts import load_model
from mlpcli.artifacts.evaluations import save_evaluation
from mlpcli.commands import run_evaluate, run_kfold, run_show, run_synth, run_train
from mlpcli.config import from_dict
from mlpcli.errors import ArtifactError
from mlpcli.visualize import plots
from mlpcli.visualize.tiles import PAD, grid_size, to_uint8, upscale
from mlpcli.visualize.weights import pixel_templates

SIZE = 16
N_PER_CLASS = 20
N_CLASSES = 4  # the synthetic shapes


def _config(root: Path, **sections):
    raw = {
        "seed": 1,
        "data": {
            "format": "synthetic",
            "n_per_class": N_PER_CLASS,
            "image_size": SIZE,
            "cache_dir": str(root / "cache"),
        },
        "train": {"epochs": 2, "batch_size": 16, "lr": 0.05},
        "output": {"dir": str(root / "runs")},
    }
    raw.update(sections)
    return from_dict(raw)


# The plots need the optional plot extra; the README's test command installs it, so CI runs these.
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason='plots need matplotlib: pip install ".[test,plot]"'
)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("show")


@pytest.fixture(scope="module")
def linear_run(root) -> Path:
    return Path(run_train(_config(root, model={"hidden": []}), out=root / "linear")["run_dir"])


@pytest.fixture(scope="module")
def hidden_run(root) -> Path:
    return Path(run_train(_config(root, model={"hidden": [8]}), out=root / "hidden")["run_dir"])


@pytest.fixture(scope="module")
def e2e_run(root) -> Path:
    config = _config(
        root, mode="end_to_end", model={"hidden": []}, extractor={"blocks": [{"filters": 4, "kernel": 3, "pool": 2}]}
    )
    return Path(run_train(config, out=root / "e2e")["run_dir"])


@pytest.fixture(scope="module")
def kfold_run(root) -> Path:
    return Path(run_kfold(_config(root, model={"hidden": []}), k=2, out=root / "kfold")["run_dir"])


def _png(path) -> Image.Image:
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
        return image


def _by_name(result) -> dict[str, Path]:
    return {Path(p).name: Path(p) for p in result["pictures"]}


def _scale(picture_width: int, n_tiles: int, columns: int, side: int) -> int:
    """Invert grid_size for square tiles: the upscale factor the grid was drawn with."""
    columns = min(columns, n_tiles)
    return ((picture_width - PAD) // columns - PAD) // side


@needs_matplotlib
def test_linear_run_summary_and_pictures(linear_run, tmp_path):
    result = run_show(linear_run, out_dir=tmp_path / "pics")
    assert result["kind"] == "train" and result["hint"] is None
    assert result["config"]["model"]["hidden"] == [] and result["config"]["features"] == [{"name": "raw"}]
    assert result["config"]["data"]["format"] == "synthetic"
    assert result["n"]["train"] + result["n"]["val"] == N_PER_CLASS * N_CLASSES
    assert 0 <= result["metrics"]["val"]["accuracy"] <= 1 and result["epochs"] == 2
    assert result["seconds"] >= 0
    # Right after train, with no saved evaluation: the validation split's own confusion matrix.
    evaluation = result["evaluation"]
    assert evaluation["data"] == "validation split" and evaluation["n"] == result["n"]["val"]
    assert evaluation["path"] == str(linear_run / "metrics.json")
    assert np.trace(evaluation["confusion"]) / evaluation["n"] == pytest.approx(result["metrics"]["val"]["accuracy"])
    assert any("--save" in note for note in result["notes"])
    pictures = _by_name(result)
    assert set(pictures) == {"class_templates.png", "learning_curves.png", "confusion.png"}
    assert all(path.parent == tmp_path / "pics" for path in pictures.values())
    curves = _png(pictures["learning_curves.png"])
    assert curves.size == tuple(round(v * plots.DPI) for v in plots.CURVES_SIZE)
    json.dumps(result)  # JSON-able as promised


def test_class_template_tiles_match_the_weights(linear_run, tmp_path):
    path = _by_name(run_show(linear_run, out_dir=tmp_path))["class_templates.png"]
    picture = np.asarray(_png(path))
    scale = _scale(picture.shape[1], N_CLASSES, 10, SIZE)
    assert picture.shape[:2] == grid_size(N_CLASSES, (SIZE * scale, SIZE * scale), 10)
    model = load_model(linear_run)
    templates = pixel_templates(model.network.layers[0].params["W"], model.standardizer.std, (SIZE, SIZE))
    for index, template in enumerate(templates):
        col = PAD + index * (SIZE * scale + PAD)
        tile = picture[PAD : PAD + SIZE * scale, col : col + SIZE * scale]
        np.testing.assert_array_equal(tile, upscale(to_uint8(template), scale))


def test_default_out_dir_is_inside_the_run(linear_run):
    result = run_show(linear_run)
    assert all(Path(p).parent == linear_run / "pictures" for p in result["pictures"])
    assert all(Path(p).is_file() for p in result["pictures"])


def test_hidden_layer_run_draws_first_layer_units(hidden_run, tmp_path):
    result = run_show(hidden_run, out_dir=tmp_path)
    assert result["weights"]["kind"] == "first_layer_units"
    picture = _png(_by_name(result)["first_layer_units.png"])
    scale = _scale(picture.width, 8, 8, SIZE)
    assert scale >= 1 and picture.size[::-1] == grid_size(8, (SIZE * scale, SIZE * scale), 8)


def test_end_to_end_run_draws_first_conv_filters(e2e_run, tmp_path):
    result = run_show(e2e_run, out_dir=tmp_path)
    assert result["weights"]["kind"] == "conv_filters" and "extractor" in result["config"]
    picture = _png(_by_name(result)["conv_filters.png"])
    scale = _scale(picture.width, 4, 8, 3)
    assert scale > 1 and picture.size[::-1] == grid_size(4, (3 * scale, 3 * scale), 8)


@needs_matplotlib
def test_kfold_run_reports_folds_and_draws_bars(kfold_run, tmp_path):
    result = run_show(kfold_run, out_dir=tmp_path)
    kfold = result["kfold"]
    assert result["kind"] == "kfold" and kfold["k"] == 2 and len(kfold["folds"]) == 2
    assert kfold["mean_accuracy"] == pytest.approx(np.mean(kfold["fold_accuracies"]))
    assert kfold["std_accuracy"] == pytest.approx(np.std(kfold["fold_accuracies"]))
    assert result["n"]["train"] + result["n"]["val"] == N_PER_CLASS * N_CLASSES
    assert result["epochs"] == [2, 2] and result["weights"]["from"].startswith("fold 1")
    pictures = _by_name(result)
    assert {"kfold_accuracy.png", "learning_curves.png", "class_templates.png"} <= set(pictures)
    assert _png(pictures["kfold_accuracy.png"]).size == tuple(round(v * plots.DPI) for v in plots.KFOLD_SIZE)
    # The out-of-fold predictions cover every sample once: the run's confusion matrix.
    evaluation = result["evaluation"]
    assert evaluation["data"] == "out-of-fold predictions" and evaluation["n"] == N_PER_CLASS * N_CLASSES
    assert np.trace(evaluation["confusion"]) / evaluation["n"] == pytest.approx(kfold["oof_accuracy"])
    if plots.available():
        assert "confusion.png" in pictures
    from mlpcli import __version__

    stamps = [
        json.loads(path.read_text())
        for path in [kfold_run / "kfold_summary.json", *kfold_run.glob("folds/fold_*/metrics.json")]
    ]
    assert len(stamps) == 3 and all(s["mlpcli_version"] == __version__ for s in stamps)
    assert len({s["data_fingerprint"] for s in stamps}) == 1 and stamps[0]["data_fingerprint"]


def test_validation_confusion_in_metrics_is_the_models_on_the_val_rows(linear_run):
    from mlpcli import __version__
    from mlpcli.config import load_config
    from mlpcli.data import load_dataset
    from mlpcli.metrics import confusion_matrix
    from mlpcli.train.fit import holdout_split

    config = load_config(linear_run / "config.yaml")
    dataset = load_dataset(config.data, config.seed, cache=False)
    _, val = holdout_split(config, dataset.labels)
    predicted = load_model(linear_run).predict_proba(dataset.images[val]).argmax(axis=1)
    metrics = json.loads((linear_run / "metrics.json").read_text())
    assert metrics["val"]["confusion"] == confusion_matrix(dataset.labels[val], predicted, N_CLASSES).tolist()
    assert metrics["class_names"] == list(dataset.class_names)
    assert metrics["mlpcli_version"] == __version__ and metrics["data_fingerprint"] == dataset.fingerprint


@needs_matplotlib
def test_saved_evaluation_gives_a_confusion_heatmap(linear_run, tmp_path):
    data = tmp_path / "test"
    run_synth(data, 3, SIZE, seed=5)
    report = run_evaluate(linear_run, data)
    first = save_evaluation(linear_run, report, data)
    second = save_evaluation(linear_run, {**report, "accuracy": 0.5}, data)
    assert first != second and first.parent == linear_run / "evaluations"
    assert first.name.endswith("-test.json") and json.loads(first.read_text())["data"] == str(data)
    os.utime(first, (1, 1))  # make the second one clearly the newest
    result = run_show(linear_run, out_dir=tmp_path / "pics")
    assert result["evaluation"]["path"] == str(second) and result["evaluation"]["accuracy"] == 0.5
    assert result["evaluation"]["confusion"] == report["confusion"]
    heatmap = _png(_by_name(result)["confusion.png"])
    assert heatmap.size == tuple(round(v * plots.DPI) for v in plots.confusion_size(N_CLASSES))


def test_without_matplotlib_the_summary_and_tiles_remain(linear_run, tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.pyplot", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)
    result = run_show(linear_run, out_dir=tmp_path)
    assert 'pip install "mlpcli[plot]"' in result["hint"]
    assert result["metrics"]["train"]["accuracy"] is not None
    assert set(_by_name(result)) == {"class_templates.png"}
    _png(tmp_path / "class_templates.png")
    assert not (tmp_path / "learning_curves.png").exists()


def test_missing_or_empty_run_directory_is_an_artifact_error(tmp_path):
    with pytest.raises(ArtifactError, match="no such run directory"):
        run_show(tmp_path / "nope")
    with pytest.raises(ArtifactError, match="not a run directory"):
        run_show(tmp_path)
