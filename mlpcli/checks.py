"""Validators for config values: ``check(value, key) -> normalized value`` or ``ConfigError``.

Each message has the form ``<key>: must be <what>; got <value>`` so the user sees the key, the
allowed values and what they wrote. Each check also carries ``kind`` (its YAML type) and
``expected`` (the ``<what>``), from which the config reference is generated: the docs and the
error messages use the same words.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeGuard

from .errors import ConfigError


@dataclass(frozen=True)
class Check:
    """A check ``(value, key) -> normalized value`` labelled for the config reference: ``kind`` is
    its YAML type, ``expected`` what it accepts (the ``<what>`` of its messages)."""

    check: Callable[[Any, str], Any]
    kind: str
    expected: str

    def __call__(self, value: Any, key: str) -> Any:
        return self.check(value, key)


def described(check: Callable[[Any, str], Any], kind: str, expected: str) -> Check:
    """``check`` labelled for the config reference: its YAML type and what it accepts."""
    return Check(check, kind, expected)


def fail(key: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"{key}: must be {expected}; got {shown(value)}")


def is_int(value: Any) -> TypeGuard[int]:
    """An integer, and not a bool (which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def unknown_key(prefix: str, key: str, allowed: Iterable[str], fitting: Iterable[str] = ()) -> ConfigError:
    """``unknown key 'train.lrr'; did you mean 'train.lr'?`` (or the allowed keys if none is close).
    A close key among ``fitting`` (those that take the value given: sections for a mapping) comes
    first, as its fix works: ``modle: {hidden: [64]}`` suggests ``model``, not ``mode``."""
    allowed = list(allowed)
    close = difflib.get_close_matches(key, list(fitting), n=1) or difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean '{prefix}{close[0]}'?" if close else f"; allowed: {', '.join(allowed)}"
    return ConfigError(f"unknown key '{prefix}{key}'{hint}")


def shown(value: Any, limit: int = 200) -> str:
    """``repr(value)``, cut to ``limit`` characters (Python refuses to print integers of more
    than 4300 digits, and a pasted megabyte should not fill the terminal)."""
    try:
        text = repr(value)
    except ValueError:
        return f"<an integer of about {value.bit_length() * 3 // 10} digits>"
    return text if len(text) <= limit else text[:limit] + "..."


def one_of(choices: Iterable[str]) -> Check:
    allowed = tuple(choices)
    expected = f"one of {', '.join(allowed)}"

    def check(value, key):
        if not isinstance(value, str) or value not in allowed:
            raise fail(key, expected, value)
        return value

    return described(check, "string", expected)


def integer(minimum: int | None = None) -> Check:
    expected = "an integer" + (f" >= {minimum}" if minimum is not None else "")

    def check(value, key):
        if not is_int(value) or (minimum is not None and value < minimum):
            raise fail(key, expected, value)
        return value

    return described(check, "integer", expected)


def number(
    minimum: float | None = None, maximum: float | None = None, exclusive_min: bool = False, exclusive_max: bool = False
) -> Check:
    low = "" if minimum is None else f"{'>' if exclusive_min else '>='} {minimum}"
    high = "" if maximum is None else f"{'<' if exclusive_max else '<='} {maximum}"
    expected = ("a number " + " and ".join(b for b in (low, high) if b)).strip()

    def check(value, key):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
            raise fail(key, expected, value)
        too_low = minimum is not None and (value <= minimum if exclusive_min else value < minimum)
        too_high = maximum is not None and (value >= maximum if exclusive_max else value > maximum)
        if too_low or too_high:
            raise fail(key, expected, value)
        return float(value)

    return described(check, "number", expected)


def _finite(value: int | float) -> bool:
    """Representable as a finite float: not NaN or infinity, and not an integer beyond 1.8e308."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _boolean(value, key):
    if not isinstance(value, bool):
        raise fail(key, boolean.expected, value)
    return value


def _string(value, key):
    if not isinstance(value, str) or not value:
        raise fail(key, string.expected, value)
    return value


def _path(value, key):
    """A file or folder name; a leading ``~`` or ``~user`` is expanded to that home folder, as a
    shell would (otherwise ``output.dir: ~/runs`` makes a folder literally named ``~``)."""
    return os.path.expanduser(string(value, key))


boolean = described(_boolean, "boolean", "true or false")
string = described(_string, "string", "a non-empty string")
path = described(_path, "path", "a file or folder name (~ is your home folder)")


def optional(inner: Check) -> Check:
    def check(value, key):
        return None if value is None else inner(value, key)

    return described(check, f"{inner.kind} or null", f"{inner.expected}, or null")


def int_list(minimum: int) -> Check:
    item = integer(minimum)
    expected = f"a list of integers >= {minimum} (e.g. [128] or [])"

    def check(value, key):
        if not isinstance(value, (list, tuple)):
            raise fail(key, expected, value)
        return tuple(item(v, f"{key}[{i}]") for i, v in enumerate(value))

    return described(check, "list of integers", expected)


def _class_list(value, key):
    """A non-empty list of distinct, non-empty class names (surrounding spaces removed)."""
    expected = "a non-empty list of distinct class names"
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(key, expected, value)
    names = tuple(v.strip() for v in value)
    if len(set(names)) != len(names):
        raise fail(key, expected + " (a name is listed twice)", value)
    return names


class_list = described(_class_list, "list of strings", "a non-empty list of distinct class names")


def _image_size(value, key):
    """``32`` or ``[height, width]`` -> (height, width)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise fail(key, "an integer or [height, width]", value)
    side = integer(8)
    return tuple(side(v, f"{key}[{i}]") for i, v in enumerate(value))


image_size = described(_image_size, "integer or [height, width]", "an integer or [height, width], each >= 8")


def _batch_size(value, key):
    """A positive integer, or ``full`` for classic full-batch gradient descent."""
    if value == "full":
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(key, batch_size.expected, value)
    return value


batch_size = described(_batch_size, "integer or full", "an integer >= 1 or 'full'")
