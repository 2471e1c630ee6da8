"""Sequences of many file names or paths held as one string and the offsets where each ends.

A list of 100,000 paths is 100,000 small objects (a ``Path`` costs ~300 bytes with its cached
string): 40 MB at 100,000 photos, and long after the list is dropped the heap keeps the pages
they were allocated among, so the process's memory grew with the number of images (issue 23).
``Names`` (strings) and ``PathList`` (paths) are two objects whatever their length; items are
made on demand, and a slice of a ``PathList`` (a shard, a chunk sent to a decode worker) is
another packed ``PathList``.
"""

from __future__ import annotations

import io
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar, overload

import numpy as np

_Self = TypeVar("_Self", bound="_Packed")


class _Packed:
    """The storage: ``_text`` (every item's string, joined) and ``_ends`` (n_items + 1,) int64,
    the offset after each item, starting with 0."""

    _text: str
    _ends: np.ndarray

    def __init__(self, items: Iterable[str | Path] = ()) -> None:
        # Written as they come: no list of the items is ever held.
        text, ends, end = io.StringIO(), array("q", [0]), 0
        for item in items:
            end += text.write(str(item))
            ends.append(end)
        self._text = text.getvalue()
        self._ends = np.frombuffer(ends, dtype=np.int64).copy()

    @classmethod
    def _of(cls: type[_Self], text: str, ends: np.ndarray) -> _Self:
        packed = object.__new__(cls)
        packed._text, packed._ends = text, ends
        return packed

    @classmethod
    def joined(cls: type[_Self], parts: Iterable[_Packed]) -> _Self:
        """The items of ``parts``, one after the other."""
        texts, ends, offset = [], [np.zeros(1, np.int64)], 0
        for part in parts:
            texts.append(part._text)
            ends.append(part._ends[1:] + offset)
            offset += len(part._text)
        return cls._of("".join(texts), np.concatenate(ends))

    def where(self: _Self, mask: np.ndarray) -> _Self:
        """The items whose ``mask`` (n_items,) bool is True, in order."""
        return type(self)(self._text[a:b] for a, b, keep in zip(self._ends[:-1], self._ends[1:], mask) if keep)

    def _part(self: _Self, start: int, stop: int) -> _Self:
        first, last = self._ends[start], self._ends[stop]
        return self._of(self._text[first:last], self._ends[start : stop + 1] - first)

    def _string(self, index: int) -> str:
        row = range(len(self))[index]  # negative indices, and IndexError past the end
        return self._text[self._ends[row] : self._ends[row + 1]]

    def __len__(self) -> int:
        return len(self._ends) - 1

    def __iter__(self) -> Iterator:  # each kind makes its own items (str, Path)
        raise NotImplementedError

    def __eq__(self, other) -> bool:
        if isinstance(other, _Packed):
            return type(self) is type(other) and self._text == other._text and np.array_equal(self._ends, other._ends)
        return isinstance(other, Sequence) and not isinstance(other, str) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # equal to lists, which have none

    def __repr__(self) -> str:
        shown = [self._string(i) for i in range(min(3, len(self)))]
        return f"{type(self).__name__}({shown}{' ...' if len(self) > 3 else ''}, {len(self)} items)"


class Names(_Packed, Sequence[str]):
    """Strings (images' names or paths) read like a list; a slice is a list of strings."""

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._string(i) for i in range(*index.indices(len(self)))]
        return self._string(index)

    def __iter__(self) -> Iterator[str]:
        return (self._string(i) for i in range(len(self)))


class PathList(_Packed, Sequence[Path]):
    """Paths read like a list of ``Path``; a slice with no step is another ``PathList``."""

    @overload
    def __getitem__(self, index: int) -> Path: ...
    @overload
    def __getitem__(self, index: slice) -> PathList: ...
    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return PathList(self._string(i) for i in range(start, stop, step))
            return self._part(start, max(start, stop))
        return Path(self._string(index))

    def __iter__(self) -> Iterator[Path]:
        return (Path(self._string(i)) for i in range(len(self)))

    def strings(self) -> Names:
        """The paths as strings, sharing this list's storage."""
        return Names._of(self._text, self._ends)
