"""File lists held without an object per file: ``Dataset.sources`` (``Names``) and ``Files.paths``
(``PathList``) read like lists, as one string and the offsets where each item ends. Issue 23:
100,000 path strings, then 100,000 ``Path`` objects (~300 bytes each), stayed alive for the run
or left the heap pages they were allocated among held, so memory grew with the number of images.
Watched failing with ``sources`` built as a list, and with ``scan_folder`` returning a list."""

import pickle
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from conftest import write_image_folder

from mlpcli.data.filelist import with_validation
from mlpcli.data.folder import folder_files, load_folder
from mlpcli.data.names import Names, PathList


def _packed(sequence) -> bool:
    return sorted(type(value).__name__ for value in vars(sequence).values()) == ["ndarray", "str"]


def test_a_folder_s_sources_are_names_holding_no_object_per_image(tmp_path):
    root = write_image_folder(tmp_path / "photos", n_per_class=3, size=(6, 6))
    dataset = load_folder(root, (6, 6), cache_dir=str(tmp_path / "cache"))
    expected = [str(path) for path in sorted(root.rglob("*.png"))]
    assert isinstance(dataset.sources, Names) and _packed(dataset.sources)
    assert dataset.sources == expected and list(dataset.sources) == expected


def test_listing_a_folder_keeps_no_object_per_file(tmp_path):
    root = tmp_path / "photos"
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for i in range(1500):  # the listing reads names only: empty files will do
            (root / name / f"{i:05d}.jpg").touch()
    tracemalloc.start()
    try:
        files = folder_files(root)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # The text of the paths and an 8-byte offset each, plus the labels (a list of Path objects: 5x more).
    text = sum(len(str(path)) for path in files.paths)
    assert held < text + 3000 * 24 + 64_000
    assert isinstance(files.paths, PathList) and _packed(files.paths) and len(files.paths) == 3000
    assert files.paths[1500] == root / "dog" / "00000.jpg" and list(files.labels[1499:1501]) == [0, 1]


def test_names_read_like_a_list():
    items = ["a/b.png", "cé/d f.png", "", "日本/x.jpg"]
    names = Names(items)
    assert len(names) == 4 and names[1] == "cé/d f.png" and names[-1] == "日本/x.jpg" and names[2] == ""
    assert names[1:3] == items[1:3] and names.index("日本/x.jpg") == 3 and "a/b.png" in names
    assert names == items and names == Names(items) and names != items[:3] and names != "a/b.png"
    assert not Names([]) and Names([]) == []
    with pytest.raises(IndexError):
        names[4]
    assert np.array_equal(names._ends, [0, 7, 17, 17, 25])


def test_a_path_list_reads_like_a_list_of_paths_and_slices_stay_packed():
    paths = [Path("/d/a b.jpg"), Path("rel/é.png"), Path("/日本/x.jpg"), Path("/d/z.gif")]
    packed = PathList(paths)
    assert packed == paths and list(packed) == paths and packed[-1] == paths[-1] and len(packed) == 4
    part = packed[1:3]
    assert isinstance(part, PathList) and _packed(part) and part == paths[1:3] and packed[3:1] == []
    assert packed[::2] == paths[::2] and packed[::-1] == paths[::-1]
    assert pickle.loads(pickle.dumps(part)) == paths[1:3]  # as sent to a decode worker
    assert PathList.joined([packed[:1], part, PathList([])]) == paths[:3]
    assert PathList.joined([packed[:2], packed[2:]]) == packed
    assert packed.where(np.array([True, False, False, True])) == [paths[0], paths[3]]
    assert packed.strings() == [str(path) for path in paths] and isinstance(packed.strings(), Names)
    with pytest.raises(IndexError):
        packed[4]


def test_a_fixed_validation_folder_follows_the_training_files(tmp_path):
    train = folder_files(write_image_folder(tmp_path / "train", n_per_class=2, size=(6, 6)))
    val = folder_files(write_image_folder(tmp_path / "val", n_per_class=1, size=(6, 6)))
    both = with_validation(train, val)
    assert isinstance(both.paths, PathList) and both.paths == list(train.paths) + list(val.paths)
    assert list(both.val) == [False] * 6 + [True] * 3
