"""docs/RELIABILITY.md must match the fault tests: every test it names exists, every fault test is named."""

from __future__ import annotations

import ast
import re

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.faults

DOC = ROOT / "docs" / "RELIABILITY.md"
# Rows whose whole file is the proof (another branch's suite, named by file, not by test).
WHOLE_FILES = {"tests/faults/test_ctrl_c.py"}


def defined_tests(path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")
    }


def named() -> set[tuple[str, str]]:
    return set(re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", DOC.read_text()))


def test_every_test_the_table_names_exists():
    missing = [
        f"{path}::{name}"
        for path, name in sorted(named())
        if not (ROOT / path).exists() or name not in defined_tests(ROOT / path)
    ]
    assert missing == []


def test_every_fault_test_is_in_the_table():
    listed = named()
    unlisted = [
        f"{path.relative_to(ROOT)}::{name}"
        for path in sorted((ROOT / "tests" / "faults").glob("test_*.py"))
        if str(path.relative_to(ROOT)) not in WHOLE_FILES and path != ROOT / "tests/faults/test_reliability_doc.py"
        for name in sorted(defined_tests(path))
        if (str(path.relative_to(ROOT)), name) not in listed
    ]
    assert unlisted == []


def test_whole_file_rows_are_in_the_table():
    text = DOC.read_text()
    assert all(f"`{path}`" in text for path in WHOLE_FILES)
