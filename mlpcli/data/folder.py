"""Image folders: ``root/<class name>/<image file>``, one sub-folder per class."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .. import threads
from ..errors import DataError
from ..pools import abort_pool, ignore_sigint, sigint_blocked
from ..progress import bar, log
from . import DEFAULT_MAX_IMAGE_PIXELS, Dataset
from .filelist import Files, load_files
from .images import is_image_path, load_image
from .names import PathList
from .shape import as_preprocess

# Below this many images, or this many bytes of files, a process pool costs more than it saves.
PARALLEL_MIN = 2000
PARALLEL_MIN_BYTES = 16 << 20
DECODE_CHUNK = 500
#: A chunk holds at most this many bytes of decoded images (its reply is pickled, sent and unpickled).
DECODE_CHUNK_BYTES = 8 << 20
#: Chunks in flight per decode worker: enough to keep each busy, few enough that the decoded
#: chunks waiting for this process (it writes them in order) stay a few times DECODE_CHUNK_BYTES.
AHEAD_PER_WORKER = 2
#: Chunks per worker at least, so that a few large photos still spread over every worker.
CHUNKS_PER_WORKER = 4
#: How a command-line user leaves unreadable images out (predict, evaluate); configs pass their own.
SKIP_HINT = "--on-error skip"


def scan_folder(root: str | Path) -> tuple[PathList, np.ndarray, tuple[str, ...]]:
    """Image paths (sorted by class, then name), their labels and the sorted class names.

    Entries starting with '.' are ignored; extensions are matched case-insensitively. Symlinks are
    followed one level: a symlinked class folder is a class, a symlinked image is an image. Inside a
    class folder only files count; sub-folders, and so symlinks to folders (a loop back to a parent
    included), are never entered, so a scan cannot recurse. An image-named symlink that leads
    nowhere (dangling, or a loop) is kept, so that decoding reports it like any unreadable image.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data folder not found (expected {root}/<class>/<image files>)")
    class_dirs = sorted(p for p in _entries(root) if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{root}: no class folders found (expected {root}/<class>/<image files>)")
    classes: list[PathList] = []  # packed class by class: only one folder's Path objects at a time
    for class_dir in class_dirs:
        files = sorted(
            p
            for p in _entries(class_dir)
            if not p.name.startswith(".") and is_image_path(p) and (p.is_file() or _leads_nowhere(p))
        )
        if not files:
            raise DataError(
                f"{class_dir}: class folder has no images (accepted extensions: png, jpg, jpeg, bmp, gif, webp, tif)"
            )
        classes.append(PathList(files))
    labels = np.repeat(np.arange(len(classes), dtype=np.int64), [len(files) for files in classes])
    return PathList.joined(classes), labels, tuple(p.name for p in class_dirs)


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError as exc:
        raise DataError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from None


def _leads_nowhere(path: Path) -> bool:
    """A dangling or looping symlink (``exists`` follows links and is False for both)."""
    return path.is_symlink() and not path.exists()


def load_folder(
    root: str | Path,
    image_size=(32, 32),
    on_error: str = "fail",
    cache_dir: str | None = None,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    classes=None,
) -> Dataset:
    """Decode every image under ``root`` by ``image_size`` (a size (height, width) or a
    ``shape.Preprocess``) to (height, width, 3) uint8; decoded sets are cached.

    ``classes``: the class folders to read, in this order (None: all, sorted). Unreadable images
    (corrupt, truncated, empty, not an image, over ``max_pixels`` pixels, permission denied, a link
    that leads nowhere) raise one DataError naming each file. ``on_error='skip'`` leaves them out,
    logs each and lists them in ``Dataset.skipped``; but a class left with no images, or a data set
    left with none, is still a DataError: a class without examples cannot be learned.
    """
    return load_files(folder_files(root, classes), as_preprocess(image_size), on_error, cache_dir, max_pixels)


def folder_files(root: str | Path, classes=None) -> Files:
    """The labelled files of the image folder ``root``, only ``classes`` (in that order) if given."""
    from .classes import select_classes

    root = Path(root)
    paths, labels, class_names = scan_folder(root)
    keep, labels, class_names = select_classes(labels, class_names, classes, f"{root} (class folders)")
    return Files(paths.where(keep), labels, class_names, root, tuple(str(root / name) for name in class_names))


def decode_all(
    paths: list[Path], image_size, skip: bool = False, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Decode ``paths`` (in parallel for large sets) -> (images (n_kept, height, width, 3) uint8,
    kept (n_paths,) bool, failures [{"path", "reason"}] of the unreadable files, in path order).

    Every file is tried. Unreadable ones are left out and each is logged when ``skip``; otherwise
    one DataError names them all. ``max_pixels`` is the decompression-bomb limit of load_image,
    passed to every worker so it holds there too.
    """
    with decode_pool(paths) as pool, bar(len(paths), "decode", unit="img") as progress:
        images, kept, failures = decode_files(paths, image_size, max_pixels, pool, progress)
    report_failures(failures, skip)
    return images, kept, failures


def decode_batches(paths: Sequence[Path], image_size, max_pixels: int, batch_bytes: int):
    """Decode ``paths`` in order, in batches of at most ``batch_bytes`` of decoded images, on one
    pool and one progress bar -> per batch, ``decode_files``'s (images (n_kept, height, width, 3)
    uint8, kept (n_batch,) bool, failures); nothing is reported. Memory: one batch of images."""
    spec = as_preprocess(image_size)
    length = max(1, batch_bytes // (spec.size[0] * spec.size[1] * 3))
    with decode_pool(paths) as pool, bar(len(paths), "decode", unit="img") as progress:
        for start in range(0, len(paths), length):
            yield decode_files(paths[start : start + length], spec, max_pixels, pool, progress)


@contextmanager
def decode_pool(paths: Sequence[Path]):
    """A process pool for decoding ``paths`` (``_workers``), or None when one would not pay.

    Ctrl-C reaches the whole process group: the workers ignore it, and on any exception (Ctrl-C
    included) this process stops them at once instead of waiting for their chunks."""
    workers = _workers(paths)
    if workers < 2:
        yield None
        return
    pool = ProcessPoolExecutor(workers, initializer=ignore_sigint)
    try:
        yield pool
    except BaseException:
        abort_pool(pool)
        raise
    pool.shutdown()


def decode_files(paths: Sequence[Path], image_size, max_pixels: int, pool, progress):
    """Decode ``paths`` by ``image_size`` (a size or a ``shape.Preprocess``) on ``pool`` (None:
    here) -> (images (n_kept, height, width, 3) uint8, kept (n_paths,) bool, failures in path
    order); nothing is reported. Memory: the decoded images of ``paths``."""
    spec = as_preprocess(image_size)
    images = np.empty((len(paths), *spec.size, 3), dtype=np.uint8)
    kept = np.ones(len(paths), dtype=bool)
    failures: list[dict] = []
    for _, start, block, ok, errors in decoded_pieces([paths], spec, max_pixels, pool, progress):
        images[start : start + len(ok)][ok] = block
        kept[start : start + len(ok)] = ok
        failures += errors
    return (images, kept, failures) if kept.all() else (images[kept], kept, failures)


def decoded_pieces(shards: Sequence[Sequence[Path]], spec, max_pixels: int, pool, progress):
    """Decode the files of each of ``shards`` in chunks (``_chunk_length``) on ``pool`` (None:
    here) -> (shard position, start, images (n_ok, height, width, 3) uint8, ok (n_chunk,) bool,
    failures) per chunk, in order. At most ``AHEAD_PER_WORKER`` chunks per worker are decoded
    ahead of the one being used, so memory holds a few chunks, whatever the number of files."""
    workers = threads.decode_workers(sum(map(len, shards))) if pool is not None else 1  # the pool's size
    places = [
        (position, start, size)
        for position, shard in enumerate(shards)
        for size in [_chunk_length(len(shard), spec, workers)]
        for start in range(0, len(shard), size)
    ]
    calls = ((shards[position][start : start + size], spec, max_pixels) for position, start, size in places)
    for (position, start, _), (block, ok, errors) in zip(places, _results(pool, calls, AHEAD_PER_WORKER * workers)):
        progress.update(len(ok))
        yield position, start, block, ok, errors


def _chunk_length(n_files: int, spec, workers: int) -> int:
    """Files per chunk: ``CHUNKS_PER_WORKER`` chunks per worker at least (a few large photos still
    spread over every worker), at most ``DECODE_CHUNK`` files and ``DECODE_CHUNK_BYTES`` of images."""
    height, width = spec.size
    most = min(DECODE_CHUNK, DECODE_CHUNK_BYTES // (height * width * 3))
    return max(1, min(most, math.ceil(n_files / (CHUNKS_PER_WORKER * workers))))


def _results(pool, calls, ahead: int):
    """``_decode_chunk`` of each of ``calls``, in order: here, or on ``pool`` with at most ``ahead``
    submitted and not yet taken (a future keeps its result until dropped). Not ``pool.map``: on
    Ctrl-C it cancels the waiting chunks, and Python < 3.12's pool then crashes (a traceback)
    failing them when ``abort_pool`` stops the workers."""
    if pool is None:
        yield from (_decode_chunk(*call) for call in calls)
        return
    pending: deque = deque()
    for call in calls:
        with sigint_blocked():  # the workers are forked here: they must not die of the group's Ctrl-C
            pending.append(pool.submit(_decode_chunk, *call))
        if len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _workers(paths: Sequence[Path]) -> int:
    """Decode processes for ``paths``: ``threads.decode_workers`` (``--threads``), or 1 when the set
    is too small to pay for a pool (fewer than PARALLEL_MIN images and PARALLEL_MIN_BYTES of files)."""
    if len(paths) < PARALLEL_MIN and _file_bytes(paths, PARALLEL_MIN_BYTES) < PARALLEL_MIN_BYTES:
        return 1
    return threads.decode_workers(len(paths))


def _file_bytes(paths: Sequence[Path], enough: int) -> int:
    """The files' total size, counted until it reaches ``enough``."""
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except OSError:  # unreadable: decoding reports it
            continue
        if total >= enough:
            break
    return total


def report_failures(failures: list[dict], skip: bool, skip_hint: str = SKIP_HINT) -> None:
    """Log every skipped file (``skip``), or raise one DataError naming every unreadable file and,
    in ``skip_hint``, how the caller's user leaves them out (an option, or the config key)."""
    if not failures:
        return
    lines = "".join(f"\n  {item['path']}: {item['reason']}" for item in failures)
    if skip:
        log.warning("data: skipped %d unreadable image(s):%s", len(failures), lines)
        return
    if len(failures) == 1:
        raise DataError(f"{failures[0]['path']}: {failures[0]['reason']}")
    raise DataError(
        f"{len(failures)} images could not be read:{lines}\nfix or remove them, or leave them out with {skip_hint}"
    )


def _decode_chunk(paths: Sequence[Path], image_size, max_pixels: int):
    """Decode one chunk in a worker -> (decoded images, ok mask, failures [{"path", "reason"}])."""
    decoded, ok, errors = [], [], []
    for path in paths:
        try:
            decoded.append(load_image(path, image_size, max_pixels))
            ok.append(True)
        except DataError as exc:
            ok.append(False)
            errors.append({"path": str(path), "reason": str(exc).removeprefix(f"{path}: ")})
    block = np.stack(decoded) if decoded else np.empty((0, *as_preprocess(image_size).size, 3), np.uint8)
    return block, np.asarray(ok, dtype=bool), errors
