"""Habits the tools do not check: short functions in the package, and every silenced finding
says why.

- No function in ``mlpcli/`` has more than ``MAX_FUNCTION_LINES`` lines of code: the lines of its
  body after the docstring that are neither blank, nor only a comment, nor only the closing
  brackets ``ruff format`` puts on a line of their own (a nested function counts towards the
  function it is in).
- Every ``# noqa`` and ``# type: ignore`` in ``mlpcli/`` and ``tests/`` names its codes and gives a
  reason on the same line, after the codes: ``# noqa: F401  (re-exported)``,
  ``# type: ignore[assignment]  # None on Windows``.

Checked to fail on the real tree: a function with 31 lines of code added to ``mlpcli/metrics.py``,
and ``import os  # noqa: F401`` (no reason) added to ``tests/test_metrics.py``, each failed its
test, which named the file, line and function or comment (both then removed).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 30

# A suppression comment: "noqa" or "type: ignore", then its codes (": E402,F401", "[assignment]"),
# then the rest of the comment, where the reason goes.
SUPPRESSION = re.compile(
    r"#\s*(?:noqa|type:\s*ignore)(?P<codes>:\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*"
    r"|\[[a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*\])?(?P<rest>.*)"
)


def python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


#: A line the formatter made of closing brackets alone (``)``, ``]``, ``)``, ``},``): no code on it.
CLOSING_ONLY = re.compile(r"^[)\]}]+[,:]?$")


def code_lines(lines: list[str], first: int, last: int) -> int:
    """How many of ``lines[first..last]`` (1-based, inclusive) are neither blank, nor only a
    comment, nor only closing brackets."""
    return sum(
        1
        for line in lines[first - 1 : last]
        if line.strip() and not line.strip().startswith("#") and not CLOSING_ONLY.match(line.strip())
    )


def long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """``line name (n lines)`` for each function in ``path`` with more than ``limit`` lines of code."""
    source = path.read_text()
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = node.body
        if (
            isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body = body[1:]  # the docstring
        n = code_lines(lines, body[0].lineno, node.end_lineno or body[0].lineno) if body else 0
        if n > limit:
            found.append(f"{node.lineno} {node.name} ({n} lines)")
    return found


def unexplained_suppressions(path: Path) -> list[str]:
    """``line comment`` for each ``noqa`` / ``type: ignore`` comment in ``path`` (comments only,
    not strings) that names no codes or gives no reason after them."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        match = SUPPRESSION.search(token.string) if token.type == tokenize.COMMENT else None
        if match is None:
            continue
        reason = match["rest"].strip().lstrip("#").strip()
        if not match["codes"] or not re.search(r"[a-zA-Z]", reason):
            found.append(f"{token.start[0]} {token.string}")
    return found


def test_no_function_in_the_package_is_over_30_lines_of_code():
    found = [f"{path.relative_to(ROOT)}:{entry}" for path in python_files("mlpcli") for entry in long_functions(path)]
    assert not found, f"split these functions (at most {MAX_FUNCTION_LINES} lines of code each):\n" + "\n".join(found)


def test_every_noqa_and_type_ignore_names_its_codes_and_a_reason():
    found = [
        f"{path.relative_to(ROOT)}:{entry}"
        for path in python_files("mlpcli", "tests")
        for entry in unexplained_suppressions(path)
    ]
    assert not found, (
        "name the codes and give a reason on the same line, e.g. `# noqa: F401  (re-exported)`:\n" + "\n".join(found)
    )


def test_the_checks_find_what_they_look_for_in_small_files(tmp_path):
    """A 31-line function is long and a 30-line one is not (its docstring, blank lines and
    comment-only lines not counted); suppressions without codes or reasons are found, those with
    both and text inside a string are not."""

    def function(name: str, n: int) -> str:
        body = "\n".join(f"    x{i} = {i}  # a comment after code" for i in range(n))
        return f'def {name}():\n    """Doc\n    string."""\n    # only a comment\n\n{body}\n\n\n'

    module = tmp_path / "module.py"
    module.write_text(function("long", 31) + function("short", 30))
    assert long_functions(module) == ["1 long (31 lines)"]
    module.write_text(
        "import os  # noqa: F401\n"
        "import re  # noqa: F401  (re-exported)\n"
        "x = 1  # type: ignore[assignment]\n"
        "y = 2  # type: ignore[assignment]  # None on Windows\n"
        "z = '# noqa'\n"
        "w = 3  # noqa\n"
        "v = 4  # noqa  because\n"
    )
    assert [entry.split()[0] for entry in unexplained_suppressions(module)] == ["1", "3", "6", "7"]
