"""Hostile and damaged model bundles: each is refused with an ArtifactError naming the file, never
a traceback, never code execution (issue 6, part 3)."""

import io
import json
import os
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import Payload
from PIL import Image

from mlpcli.artifacts import load_model, save_model
from mlpcli.artifacts.bundle import MAX_META_BYTES
from mlpcli.cli import cli
from mlpcli.errors import ArtifactError
from mlpcli.features import FeatureConfig
from mlpcli.features.standardize import Standardizer
from mlpcli.nn import MAX_PARAMETERS, Sequential, build_extractor, build_mlp, mlp_layers, network_from_spec
from mlpcli.predictor import FoldEnsemble, Predictor

SIZE, CLASSES = (4, 4), ("a", "b", "c")


def make_predictor(seed=0, classes=CLASSES, features=(FeatureConfig("raw", {}),)):
    rng = np.random.default_rng(seed)
    network = build_mlp(48, len(classes), [5], rng=rng)
    standardizer = Standardizer(rng.random(48).astype(np.float32), (rng.random(48) + 0.5).astype(np.float32))
    return Predictor(network, standardizer, classes, SIZE, list(features))


def images(n=3, size=SIZE):
    return np.random.default_rng(1).integers(0, 256, (n, *size, 3), dtype=np.uint8)


@pytest.fixture
def bundle(tmp_path):
    directory = tmp_path / "model"
    save_model(directory, make_predictor())
    return directory


def edit_meta(directory, **changes):
    meta = json.loads((directory / "model.json").read_text())
    for key, value in changes.items():
        if value is DELETE:
            del meta[key]
        else:
            meta[key] = value
    (directory / "model.json").write_text(json.dumps(meta))


DELETE = object()


def stored_arrays(directory):
    with np.load(directory / "weights.npz", allow_pickle=False) as stored:
        return {key: stored[key] for key in stored.files}


def write_npz_members(path, members: dict[str, bytes]):
    """A weights.npz written member by member (raw .npy bytes), as np.savez lays it out."""
    with zipfile.ZipFile(path, "w") as archive:
        for key, data in members.items():
            archive.writestr(f"{key}.npy", data)


def npy_bytes(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def refused(directory, *fragments):
    """load_model fails with an ArtifactError whose message names a file of the bundle."""
    with pytest.raises(ArtifactError) as info:
        load_model(directory)
    message = str(info.value)
    assert str(directory) in message and ("model.json" in message or "weights.npz" in message), message
    for fragment in fragments:
        assert fragment in message, message
    return message


# --- sound bundles load ------------------------------------------------------------------------


def test_an_end_to_end_bundle_passes_the_architecture_checks(tmp_path):
    rng = np.random.default_rng(0)
    blocks = [{"filters": 4, "kernel": 3, "pool": 2}, {"filters": 6, "kernel": 3, "pool": 2}]
    layers, n_features = build_extractor(blocks, (8, 12, 3), "gradient", True, rng, "float64")
    network = Sequential(layers + mlp_layers(n_features, 3, [7], rng=rng, dtype="float64"))
    predictor = Predictor(
        network, Standardizer(np.zeros(288), np.ones(288)), CLASSES, (8, 12), [FeatureConfig("raw", {})]
    )
    save_model(tmp_path, predictor)
    loaded = load_model(tmp_path)
    np.testing.assert_array_equal(
        loaded.predict_proba(images(size=(8, 12))), predictor.predict_proba(images(size=(8, 12)))
    )


def test_the_first_layer_must_take_the_features_width(tmp_path):
    save_model(tmp_path, make_predictor(features=[FeatureConfig("hog", {"cell": 2, "block": 1})]))
    # 4x4 images, 2x2 cells: 4 cells of 9 orientations = 36 features, not 48: the architecture
    # must follow the features, so this bundle is refused before any weights are read.
    refused(tmp_path, "layer 0 (Linear) takes rows of 48 values but receives (36,)")


def test_feature_parameters_missing_from_model_json_get_their_defaults(tmp_path):
    rng = np.random.default_rng(0)
    hist = FeatureConfig("color_hist", {"space": "hsv", "bins": 10})
    standardizer = Standardizer(np.zeros(10, np.float32), np.ones(10, np.float32))
    predictor = Predictor(build_mlp(10, 3, [], rng=rng), standardizer, CLASSES, SIZE, [hist])
    save_model(tmp_path, predictor)
    edit_meta(tmp_path, features=[{"name": "color_hist"}])
    assert load_model(tmp_path).features == (hist,)


# --- model.json: every field's type and range --------------------------------------------------


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"format": "other"}, "not an mlpcli model description"),
        ({"format_version": "1"}, "format_version must be an integer >= 1"),
        ({"format_version": True}, "format_version must be an integer >= 1"),
        ({"format_version": 0}, "format_version must be an integer >= 1"),
        ({"format_version": 1.0}, "format_version must be an integer >= 1"),
        ({"kind": "evil"}, "kind must be one of network, ensemble"),
        ({"class_names": DELETE}, "missing class_names"),
        ({"architecture": DELETE}, "missing architecture"),
        ({"class_names": "abc"}, "class_names must be a non-empty list of distinct strings"),
        ({"class_names": []}, "class_names must be"),
        ({"class_names": [1, 2, 3]}, "class_names must be"),
        ({"class_names": ["a", "a", "b"]}, "class_names must be"),
        ({"image_size": "4x4"}, "image_size must be [height, width]"),
        ({"image_size": [4]}, "image_size must be"),
        ({"image_size": [4, 4.0]}, "image_size must be"),
        ({"image_size": [0, 4]}, "image_size must be"),
        ({"image_size": [True, 4]}, "image_size must be"),
        ({"image_size": [100000, 100000]}, "image_size must be"),
        ({"features": "raw"}, "features must be a non-empty list"),
        ({"features": []}, "features must be a non-empty list"),
        ({"features": ["raw"]}, "features[0] must be a mapping with a name among raw"),
        ({"features": [{"name": "evil"}]}, "features[0].name: must be one of raw"),
        ({"features": [{"name": ["raw"]}]}, "features[0].name: must be one of raw"),
        ({"features": [{"name": "raw", "x": 1}]}, "unknown key 'features[0].x'"),
        ({"features": [{"name": "hog", "cell": "8"}]}, "features[0].cell: must be an integer >= 1"),
        ({"features": [{"name": "color_hist", "bins": 0}]}, "features[0].bins: must be an integer >= 1"),
        ({"features": [{"name": "color_hist", "space": "lab"}]}, "features[0].space: must be one of hsv, rgb"),
        ({"features": [{"name": "hog", "cell": 64}]}, "features[0] (hog)"),
        ({"loss": "evil"}, "loss must be one of"),
        ({"loss": ["softmax"]}, "loss must be one of"),
        ({"dtype": "float16"}, "dtype must be one of float32, float64"),
        ({"dtype": "object"}, "dtype must be one of float32, float64"),
    ],
)
def test_model_json_fields_of_the_wrong_type_or_range_are_refused(bundle, changes, fragment):
    edit_meta(bundle, **changes)
    refused(bundle, "model.json", fragment)


def test_a_newer_format_version_asks_for_an_upgrade(bundle):
    edit_meta(bundle, format_version=2)
    refused(bundle, "model.json", "newer than this mlpcli understands (1); upgrade mlpcli")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("{not json", "unreadable model description"),
        ("[" * 100000 + "]" * 100000, "unreadable model description"),
        ('{"format_version": ' + "9" * 5000 + "}", "unreadable model description"),
        ("[1, 2]", "not an mlpcli model description"),
        ("null", "not an mlpcli model description"),
    ],
)
def test_model_json_that_is_not_a_description_is_refused(bundle, text, fragment):
    (bundle / "model.json").write_text(text)
    refused(bundle, "model.json", fragment)


def test_a_huge_model_json_is_refused_unread(bundle):
    (bundle / "model.json").write_text(" " * (MAX_META_BYTES + 1))
    refused(bundle, "model.json", "too large for a model description")


def test_model_json_that_is_not_utf8_is_refused(bundle):
    (bundle / "model.json").write_bytes(b"\xff\xfe{\x00")
    refused(bundle, "model.json", "unreadable model description")


# --- model.json: the architecture ---------------------------------------------------------------

LINEAR = {"type": "Linear", "n_in": 48, "n_out": 5, "bias": True, "dtype": "float32"}
OUT = {"type": "Linear", "n_in": 5, "n_out": 3, "bias": True, "dtype": "float32"}
RELU = {"type": "ReLU", "inplace": True}


@pytest.mark.parametrize(
    "architecture, fragment",
    [
        ({}, "architecture must be a non-empty list"),
        ([], "architecture must be a non-empty list"),
        ("Linear", "architecture must be a non-empty list"),
        ([5, RELU, OUT], "layer 0: must be a mapping with a 'type' name"),
        ([{"n_in": 48}, RELU, OUT], "layer 0: must be a mapping with a 'type' name"),
        ([{"type": "Evil"}, RELU, OUT], "unknown layer type 'Evil'"),
        ([{"type": "__class__"}, RELU, OUT], "unknown layer type '__class__'"),
        ([{**LINEAR, "n_in": "48"}, RELU, OUT], "layer 0 (Linear): n_in must be an integer >= 1, got '48'"),
        ([{**LINEAR, "n_in": 48.0}, RELU, OUT], "n_in must be an integer >= 1, got 48.0"),
        ([{**LINEAR, "n_in": -48}, RELU, OUT], "n_in must be an integer >= 1"),
        ([{**LINEAR, "n_out": True}, RELU, OUT], "n_out must be an integer >= 1, got True"),
        ([{**LINEAR, "bias": "yes"}, RELU, OUT], "bias must be true or false"),
        ([{**LINEAR, "dtype": "float16"}, RELU, OUT], "dtype must be one of float32, float64"),
        ([{**LINEAR, "dtype": "float64"}, RELU, {**OUT, "dtype": "float64"}], "the model's dtype is float32"),
        ([{**LINEAR, "evil": 1}, RELU, OUT], "unknown argument 'evil'"),
        ([{"type": "Linear", "n_out": 5}, RELU, OUT], "missing 1 required positional argument: 'n_in'"),
        ([LINEAR, {"type": "MaxPool2D", "pool": 0}, OUT], "pool must be an integer >= 1"),
        ([LINEAR, RELU, {**OUT, "n_in": 6}], "layer 2 (Linear) takes rows of 6 values but receives (5,)"),
        ([{**LINEAR, "n_in": 47}, RELU, OUT], "layer 0 (Linear) takes rows of 47 values but receives (48,)"),
        ([LINEAR, RELU, {**OUT, "n_out": 4}], "the last layer outputs (4,) per sample, but the model has 3 classes"),
        ([LINEAR, RELU], "the last layer outputs (5,) per sample"),
        (
            [{"type": "ImageReshape", "height": 2, "width": 8, "channels": 3}, {"type": "Flatten"}, LINEAR, RELU, OUT],
            "layer 0 (ImageReshape) reshapes to (2, 8, 3) but the model's images are (4, 4)",
        ),
        (
            [{"type": "ImageReshape", "height": 4, "width": 4, "channels": 1}, {"type": "Flatten"}, LINEAR, RELU, OUT],
            "layer 0 (ImageReshape) reshapes to (4, 4, 1) but receives (48,)",
        ),
        (
            [
                {"type": "ImageReshape", "height": 4, "width": 4, "channels": 3},
                {"type": "Conv2D", "in_channels": 3, "filters": 2, "kernel": 1, "padding": 10**6},
                {"type": "Flatten"},
            ],
            "padding 1000000 must be smaller than the kernel 1",
        ),
        (
            [{"type": "ImageReshape", "height": 4, "width": 4, "channels": 3}, {"type": "MaxPool2D", "pool": 8}],
            "layer 1 (MaxPool2D) does not fit the 4x4 image it receives",
        ),
        (
            [
                {"type": "ImageReshape", "height": 4, "width": 4, "channels": 3},
                {"type": "Conv2D", "in_channels": 1, "filters": 2, "kernel": 1},
            ],
            "takes 1 channels but receives (4, 4, 3)",
        ),
        (
            [LINEAR, {"type": "Conv2D", "in_channels": 5, "filters": 2, "kernel": 1}],
            "layer 1 (Conv2D) takes images (height, width, channels) but receives (5,)",
        ),
        (
            [
                {"type": "ImageReshape", "height": 4, "width": 4, "channels": 3},
                {"type": "Conv2D", "in_channels": 3, "filters": 10**7, "kernel": 1},
                {"type": "Flatten"},
            ],
            "outputs (4, 4, 10000000) per sample, more than 100000000 values",
        ),
    ],
)
def test_architectures_that_are_malformed_or_do_not_chain_are_refused(bundle, architecture, fragment):
    edit_meta(bundle, architecture=architecture)
    refused(bundle, "model.json", fragment)


@pytest.mark.parametrize(
    "architecture",
    [
        [{**LINEAR, "n_in": 10**6, "n_out": 10**6}],
        [{**LINEAR, "n_out": 10**50}],
        [{"type": "Conv2D", "in_channels": 3, "filters": 10**4, "kernel": 10**3}],
        [{**LINEAR, "n_out": 10**4}] * 300,  # each layer small, together too many
    ],
)
def test_absurd_sizes_are_refused_before_anything_is_allocated(bundle, architecture):
    edit_meta(bundle, architecture=architecture)
    # Refused by counting the arguments: the message proves no layer was built.
    refused(bundle, "model.json", f"more than the {MAX_PARAMETERS} a model may have")


def test_network_from_spec_checks_before_building():
    with pytest.raises(ValueError, match="parameters, more than the 100 a model may have"):
        network_from_spec([{"type": "Linear", "n_in": 10, "n_out": 10}], max_parameters=100)
    assert network_from_spec([{"type": "Linear", "n_in": 2, "n_out": 3}]).spec()[0]["n_out"] == 3


# --- weights.npz --------------------------------------------------------------------------------


def _rewrite(directory, change):
    arrays = stored_arrays(directory)
    change(arrays)
    np.savez(directory / "weights.npz", **arrays)


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda a: a.pop("network/2.b"), "missing ['network/2.b']"),
        (lambda a: a.pop("standardizer/std"), "missing ['standardizer/std']"),
        (lambda a: a.update(extra=np.zeros(3, np.float32)), "unexpected ['extra']"),
        (lambda a: a.update({"network/4.W": np.zeros(3, np.float32)}), "unexpected ['network/4.W']"),
        (
            lambda a: a.update({"network/0.W": np.zeros((48, 6), np.float32)}),
            "network/0.W.npy is (48, 6) float32, expected (48, 5) float32",
        ),
        (lambda a: a.update({"network/0.W": a["network/0.W"].T.copy()}), "is (5, 48) float32, expected (48, 5)"),
        (lambda a: a.update({"standardizer/mean": np.zeros(47, np.float32)}), "standardizer/mean.npy is (47,)"),
        (
            lambda a: a.update({"network/0.b": a["network/0.b"].astype(np.float64)}),
            "(5,) float64, expected (5,) float32",
        ),
        (lambda a: a.update({"network/0.b": np.zeros(5, np.int32)}), "(5,) int32, expected (5,) float32"),
        (lambda a: a.update({"network/0.b": np.array(["x"] * 5)}), "(5,) <U1, expected (5,) float32"),
        (lambda a: a["network/0.W"].__setitem__((3, 2), np.nan), "contains non-finite values"),
        (lambda a: a["network/2.b"].__setitem__(0, np.inf), "contains non-finite values"),
        (lambda a: a["standardizer/std"].__setitem__(0, 0), "standardizer/std has values <= 0"),
        (lambda a: a["standardizer/std"].__setitem__(5, -1), "standardizer/std has values <= 0"),
    ],
)
def test_weights_that_do_not_match_the_architecture_are_refused(bundle, change, fragment):
    _rewrite(bundle, change)
    refused(bundle, "weights.npz", fragment)


def test_compressed_weights_that_match_are_accepted(bundle):
    arrays = stored_arrays(bundle)
    np.savez_compressed(bundle / "weights.npz", **arrays)
    np.testing.assert_array_equal(load_model(bundle).predict_proba(images()), make_predictor().predict_proba(images()))


def test_fortran_ordered_arrays_keep_their_values(bundle):
    arrays = stored_arrays(bundle)
    arrays["network/0.W"] = np.asfortranarray(arrays["network/0.W"])
    np.savez(bundle / "weights.npz", **arrays)
    np.testing.assert_array_equal(
        load_model(bundle).network.layers[0].params["W"], make_predictor().network.layers[0].params["W"]
    )


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.25, 0.5, 0.75, 0.99])
def test_truncated_weights_are_refused(bundle, fraction):
    data = (bundle / "weights.npz").read_bytes()
    (bundle / "weights.npz").write_bytes(data[: int(len(data) * fraction)])
    refused(bundle, "weights.npz")


@pytest.mark.parametrize("cut", [1, 22, 100])
def test_weights_cut_short_by_a_few_bytes_are_refused(bundle, cut):
    data = (bundle / "weights.npz").read_bytes()
    (bundle / "weights.npz").write_bytes(data[:-cut])
    refused(bundle, "weights.npz")


def test_a_flipped_byte_inside_the_weights_is_caught_by_the_checksum(bundle):
    data = bytearray((bundle / "weights.npz").read_bytes())
    weights = make_predictor().network.layers[0].params["W"].tobytes()
    offset = data.find(weights[:64])
    assert offset > 0
    data[offset + 100] ^= 0x40
    (bundle / "weights.npz").write_bytes(bytes(data))
    refused(bundle, "weights.npz", "Bad CRC-32")


def test_a_member_with_more_data_than_its_header_declares_is_refused(bundle):
    arrays = stored_arrays(bundle)
    members = {key: npy_bytes(value) for key, value in arrays.items()}
    members["network/0.b"] += b"\0" * 64
    write_npz_members(bundle / "weights.npz", members)
    refused(bundle, "weights.npz", "network/0.b.npy holds more data than its header declares")


def test_a_member_with_less_data_than_its_header_declares_is_refused(bundle):
    arrays = stored_arrays(bundle)
    members = {key: npy_bytes(value) for key, value in arrays.items()}
    members["network/0.W"] = members["network/0.W"][:-8]
    write_npz_members(bundle / "weights.npz", members)
    refused(bundle, "weights.npz", "network/0.W.npy holds less data than its header declares")


def test_a_huge_declared_array_is_refused_from_its_header_without_allocating(bundle):
    arrays = stored_arrays(bundle)
    members = {key: npy_bytes(value) for key, value in arrays.items()}
    header = npy_bytes(np.zeros((1, 1), np.float32))
    # Same header length: patch the declared shape to 10^6 x 10^6 floats (4 TB), data stays 4 bytes.
    patched = header.replace(b"(1, 1)", b"(1000000, 1000000)")
    members["network/0.W"] = patched.replace(b" " * 12 + b"\n", b"\n", 1)
    write_npz_members(bundle / "weights.npz", members)
    # Refused from the header: the 4 TB the header declares are never asked for.
    refused(bundle, "weights.npz", "network/0.W.npy is (1000000, 1000000) float32, expected (48, 5)")


def test_a_zip_with_duplicate_members_is_refused(bundle):
    arrays = stored_arrays(bundle)
    members = {key: npy_bytes(value) for key, value in arrays.items()}
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(bundle / "weights.npz", "w") as archive:
            for key, data in [*members.items(), ("network/0.b", members["network/0.b"])]:
                archive.writestr(f"{key}.npy", data)
    refused(bundle, "weights.npz", "weights do not match model.json")


def pickled_weights(directory, marker):
    """weights.npz with network/0.W replaced by an object array holding a Payload."""
    arrays = stored_arrays(directory)
    members = {key: npy_bytes(value) for key, value in arrays.items()}
    members["network/0.W"] = npy_bytes(np.array([Payload(str(marker))], dtype=object), allow_pickle=True)
    write_npz_members(directory / "weights.npz", members)


def test_the_payload_would_run_if_unpickled(tmp_path):
    """Guards the next test: the payload really does create its marker when pickle runs it."""
    marker = tmp_path / "ran"
    buffer = io.BytesIO(npy_bytes(np.array([Payload(str(marker))], dtype=object), allow_pickle=True))
    np.load(buffer, allow_pickle=True)
    assert marker.exists()


def test_a_pickled_object_array_in_the_weights_never_runs(bundle, tmp_path):
    marker = tmp_path / "pwned"
    pickled_weights(bundle, marker)
    refused(bundle, "weights.npz", "network/0.W.npy is (1,) object, expected (48, 5) float32")
    assert not marker.exists()


def test_a_pickled_object_array_under_an_unexpected_name_never_runs(bundle, tmp_path):
    marker = tmp_path / "pwned"
    arrays = stored_arrays(bundle)
    members = {key: npy_bytes(value) for key, value in arrays.items()}
    members["evil"] = npy_bytes(np.array([Payload(str(marker))], dtype=object), allow_pickle=True)
    write_npz_members(bundle / "weights.npz", members)
    refused(bundle, "weights.npz", "unexpected ['evil']")
    assert not marker.exists()


# --- ensembles ----------------------------------------------------------------------------------


def ensemble_dir(tmp_path, members):
    """An ensemble bundle at tmp_path/ens over predictors saved to the named sub-folders."""
    root = tmp_path / "ens"
    for name, predictor in members.items():
        save_model(root / name, predictor)
    first = next(iter(members.values()))
    save_model(root, FoldEnsemble([first]), list(members))
    return root


def test_an_ensemble_whose_members_disagree_on_features_is_refused(tmp_path):
    hist = FeatureConfig("color_hist", {"space": "hsv", "bins": 48})
    root = ensemble_dir(
        tmp_path, {"folds/fold_1": make_predictor(0), "folds/fold_2": make_predictor(1, features=[hist])}
    )
    refused(root, "member 2 has different features than member 1")


def test_an_ensemble_whose_members_disagree_on_classes_is_refused(tmp_path):
    root = ensemble_dir(tmp_path, {"f1": make_predictor(0), "f2": make_predictor(1, classes=("a", "b", "z"))})
    refused(root, "member 2 has different class_names than member 1")


def test_an_ensemble_whose_own_classes_differ_from_its_members_is_refused(tmp_path):
    root = ensemble_dir(tmp_path, {"f1": make_predictor(0), "f2": make_predictor(1)})
    edit_meta(root, class_names=["x", "y", "z"])
    refused(root, "the ensemble's class_names differ from its members'")


@pytest.mark.parametrize(
    "members",
    [
        ["../outside"],
        ["f1", "/etc"],
        ["f1/../../outside"],
        ["..\\outside"],
        ["C:\\outside"],
        ["."],
        [""],
        [],
        "f1",
        [["f1"]],
        [None],
    ],
)
def test_ensemble_member_paths_must_stay_inside_the_bundle(tmp_path, members):
    root = ensemble_dir(tmp_path, {"f1": make_predictor(0)})
    save_model(tmp_path / "outside", make_predictor(0))
    edit_meta(root, members=members)
    refused(root, "model.json", "members must be a non-empty list of relative paths inside the model folder")


def test_an_ensemble_member_symlinked_outside_the_bundle_is_refused(tmp_path):
    root = ensemble_dir(tmp_path, {"f1": make_predictor(0)})
    save_model(tmp_path / "outside", make_predictor(1))
    os.symlink(tmp_path / "outside", root / "sneaky")
    edit_meta(root, members=["f1", "sneaky"])
    refused(root, "model.json", "ensemble member 'sneaky' resolves outside")


def test_an_ensemble_of_ensembles_is_refused(tmp_path):
    root = ensemble_dir(tmp_path, {"f1": make_predictor(0)})
    save_model(root / "inner" / "f1", make_predictor(0))
    save_model(root / "inner", FoldEnsemble([make_predictor(0)]), ["f1"])
    edit_meta(root, members=["f1", "inner"])
    refused(root, "an ensemble member must be a single network")


def test_a_tampered_member_is_named(tmp_path):
    root = ensemble_dir(tmp_path, {"f1": make_predictor(0), "f2": make_predictor(1)})
    (root / "f2" / "weights.npz").write_bytes(b"")
    message = refused(root, "weights.npz")
    assert str(root / "f2" / "weights.npz") in message


# --- the command line: exit 1, "error:", no traceback, nothing executed ------------------------


def _newer(directory, tmp_path):
    edit_meta(directory, format_version=99)


def _truncated(directory, tmp_path):
    data = (directory / "weights.npz").read_bytes()
    (directory / "weights.npz").write_bytes(data[: len(data) // 2])


def _escaping(directory, tmp_path):
    save_model(tmp_path / "elsewhere", make_predictor())
    save_model(directory / "f1", make_predictor())
    meta = json.loads((directory / "model.json").read_text())
    meta.update(kind="ensemble", members=["f1", "../elsewhere"])
    (directory / "model.json").write_text(json.dumps(meta))


def _wrong_type(directory, tmp_path):
    edit_meta(directory, image_size="big")


@pytest.mark.parametrize(
    "tamper, fragment",
    [
        (_newer, "newer than this mlpcli"),
        (_truncated, "unreadable weights"),
        (_escaping, "members must be"),
        (_wrong_type, "image_size must be"),
        (lambda d, t: pickled_weights(d, t / "pwned"), "object"),
    ],
)
def test_predict_with_a_tampered_model_exits_1_with_a_message(bundle, tmp_path, tamper, fragment):
    Image.fromarray(images(1)[0]).save(tmp_path / "x.png")
    tamper(bundle, tmp_path)
    result = CliRunner().invoke(cli, ["predict", str(tmp_path / "x.png"), "--model", str(bundle)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and fragment in result.stderr, result.stderr
    assert str(bundle) in result.stderr
    assert "Traceback" not in result.output + result.stderr and result.stdout == ""
    assert not (tmp_path / "pwned").exists()
