"""``predict`` decodes and labels a folder a batch at a time (``PREDICT_BATCH_BYTES``) instead
of decoding it whole: 100,000 photos at 128 px were 4.9 GB of images held at once, with their
features beside them (issue 23). Watched failing with the whole-folder decode (one batch of 8)."""

import numpy as np
import pytest
from conftest import assert_same_up_to_batch_rounding, write_config

from mlpcli.commands import run_predict, run_synth, run_train, using
from mlpcli.config import load_config
from mlpcli.errors import DataError
from mlpcli.predictor import Predictor

SIZE = 16  # the synthetic config's image size: predict decodes to it


@pytest.fixture(scope="module")
def model_and_images(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("predict")
    run_train(load_config(write_config(tmp / "c.yaml")), out=tmp / "run")
    folder = tmp / "shapes"
    run_synth(folder, n_per_class=2, size=SIZE, seed=4)  # 8 images
    return tmp / "run", sorted(folder.rglob("*.png"))


@pytest.fixture
def batch_sizes(monkeypatch):
    """Each batch's number of images reaching the model; batches of at most 3 images."""
    monkeypatch.setattr(using, "PREDICT_BATCH_BYTES", 3 * SIZE * SIZE * 3)
    sizes = []
    real = Predictor.predict_proba

    def counted(self, images):
        sizes.append(len(images))
        return real(self, images)

    monkeypatch.setattr(Predictor, "predict_proba", counted)
    return sizes


def probabilities(result) -> np.ndarray:
    return np.array([[p["probability"] for p in item["top_k"]] for item in result["predictions"]])


def test_a_folder_is_labelled_in_batches_as_it_is_labelled_whole(model_and_images, batch_sizes, monkeypatch):
    run, paths = model_and_images
    batched = run_predict(paths, run, top_k=4)
    assert len(paths) == 8 and batch_sizes == [3, 3, 2]
    monkeypatch.setattr(using, "PREDICT_BATCH_BYTES", 1 << 30)
    whole = run_predict(paths, run, top_k=4)
    assert batch_sizes[3:] == [8]

    def labels(result) -> list:
        return [(item["path"], [p["label"] for p in item["top_k"]]) for item in result["predictions"]]

    assert labels(batched) == labels(whole)
    assert_same_up_to_batch_rounding(probabilities(batched), probabilities(whole))


def test_unreadable_files_in_different_batches_are_named_in_one_error_or_skipped(
    model_and_images, batch_sizes, tmp_path
):
    run, paths = model_and_images
    broken = [tmp_path / "a-broken.png", tmp_path / "z-broken.png"]
    for path in broken:
        path.write_bytes(b"not an image")
    files = [broken[0], *paths, broken[1]]  # in the first batch and the last
    with pytest.raises(DataError) as caught:
        run_predict(files, run)
    assert all(str(path) in str(caught.value) for path in broken)
    assert batch_sizes == []  # nothing labelled once a file failed
    result = run_predict(files, run, on_error="skip")
    assert [item["path"] for item in result["skipped"]] == [str(path) for path in broken]
    assert [item["path"] for item in result["predictions"]] == [str(path) for path in paths]
