"""docs/input_validation.md stays true: every error igs raises on purpose is in its table, each
row's message is what the code says, and the test the row names provokes that message.

A row's message is a fragment of the error text; `…` stands for a value filled in at run time.
Each piece between `…` must occur, in order, in the error's literal text in `igs/`, and in the
source of the named test (regex escapes removed), so renaming a message or a test fails here.
"""

from __future__ import annotations

import ast
import functools
import re

import pytest

from tests.conftest import REPO

DOC = REPO / "docs" / "input_validation.md"
ERRORS = {"IGSError", "ConfigError", "InputFormatError", "MatchRateError", "ModelError"}
# Messages that jsonschema writes for the config schema's violations (igs adds the key path).
JSONSCHEMA = (
    "is a required property",
    "is not of type",
    "is greater than the maximum of",
    "is not one of",
)


def _literal(node: ast.expr) -> str:
    """An error message's literal text with ``{}`` where a value is formatted in."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal(node.left) + _literal(node.right)
    return "{}"


@functools.cache
def raise_sites() -> list[tuple[str, str]]:
    """(file:line, literal message) of every igs error raised in igs/, and every
    `_fail_if(..., problem)` of the health-record checks (one error with many conditions)."""
    sites = []
    for path in sorted((REPO / "igs").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}"
            if (
                isinstance(node, ast.Raise)
                and isinstance(node.exc, ast.Call)
                and getattr(node.exc.func, "id", None) in ERRORS
                and node.exc.args
            ):
                text = _literal(node.exc.args[0])
                if text != "{}":  # re-raising another igs error's message
                    sites.append((where, text))
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_fail_if":
                sites.append((where, _literal(node.args[3])))
            elif isinstance(node, ast.FunctionDef) and node.name == "_describe":  # config schema
                returns = [_literal(r.value) for r in ast.walk(node) if isinstance(r, ast.Return)]
                sites += [(where, text) for text in returns if text != "{}"]
    return sites


def doc_rows() -> list[dict[str, str]]:
    """The table rows: input, condition, message (inside `...` or ``...``) and test."""
    rows = []
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[3].startswith("`tests/"):
            continue
        message = cells[2][2:-2].strip() if cells[2].startswith("``") else cells[2].strip("`")
        rows.append(
            {
                "input": cells[0],
                "condition": cells[1],
                "message": message,
                "test": cells[3].strip("`"),
            }
        )
    assert len(rows) > 50, "the table in docs/input_validation.md was not found"
    return rows


def _pieces(message: str) -> list[str]:
    return [p.strip() for p in message.split("…") if p.strip()]


def _matches(message: str, literal: str) -> bool:
    pattern = ".*?".join(re.escape(p) for p in _pieces(message))
    return re.search(pattern, literal, re.DOTALL) is not None


def _test_source(test: str) -> str:
    file, name = test.split("::")
    src = (REPO / file).read_text()
    lines = src.splitlines()
    for node in ast.parse(src).body:
        if isinstance(node, ast.FunctionDef) and node.name == name.split("[")[0]:
            first = min([d.lineno for d in node.decorator_list] + [node.lineno])
            return re.sub(r"\\(.)", r"\1", "\n".join(lines[first - 1 : node.end_lineno]))
    raise AssertionError(f"{test}: no such test")


def test_every_raised_error_is_documented():
    rows = doc_rows()
    missing = [
        f"{where}: {text}"
        for where, text in raise_sites()
        if not any(_matches(r["message"], text) for r in rows)
    ]
    assert not missing, "errors missing from docs/input_validation.md:\n" + "\n".join(missing)


@pytest.mark.parametrize("row", doc_rows(), ids=lambda r: r["message"][:40])
def test_row_is_raised_by_igs_and_provoked_by_its_test(row):
    literals = [text for _, text in raise_sites()] + list(JSONSCHEMA)
    assert any(_matches(row["message"], t) for t in literals), "no igs error says this"
    source = _test_source(row["test"])
    absent = [p for p in _pieces(row["message"]) if p not in source]
    assert not absent, f"{row['test']} does not check {absent}"
