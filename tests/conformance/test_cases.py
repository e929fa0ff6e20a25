"""Keeps :mod:`.cases` (the list docs/conformance.md is rendered from) and the test
functions of this suite in step: every case names exactly one disposition, every named
test exists, every test function belongs to a case, and no [Conformance] case is left
unported. Needs no cluster. Run by pytest; reads the test modules with :mod:`ast`.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

from tests.conformance.cases import CASES

HERE = Path(__file__).resolve().parent


def _test_functions() -> set[str]:
    found = set()
    for path in HERE.glob("test_*.py"):
        if path.name == Path(__file__).name:
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found.add(f"{path.name}::{node.name}")
    return found


def test_every_case_has_exactly_one_disposition() -> None:
    for case in CASES:
        chosen = [bool(case.test), bool(case.not_applicable), bool(case.not_ported)]
        assert chosen.count(True) == 1, case


def test_case_names_are_unique() -> None:
    dupes = [n for n, k in Counter(c.name for c in CASES).items() if k > 1]
    assert not dupes, dupes


def test_every_named_test_exists_and_every_test_has_a_case() -> None:
    named = [c.test for c in CASES if c.test]
    assert len(named) == len(set(named)), "a test is claimed by two cases"
    functions = _test_functions()
    assert set(named) - functions == set(), "cases name tests that do not exist"
    assert functions - set(named) == set(), "tests that no case lists"


def test_no_conformance_case_is_left_unported() -> None:
    assert [c.name for c in CASES if c.conformance and c.not_ported] == []


def test_test_docstrings_carry_the_upstream_name() -> None:
    by_test = {c.test: c for c in CASES if c.test}
    for path in HERE.glob("test_*.py"):
        for node in ast.parse(path.read_text()).body:
            key = f"{path.name}::{getattr(node, 'name', '')}"
            if isinstance(node, ast.FunctionDef) and key in by_test:
                doc = " ".join((ast.get_docstring(node) or "").split())
                assert doc.startswith(by_test[key].name), (key, doc)
