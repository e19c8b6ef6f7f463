"""The suite's own scheduling: the long modules are named right and run first."""
from __future__ import annotations

import tomllib
from pathlib import Path

from conftest import LONGEST_FIRST, pytest_collection_modifyitems

TESTS = Path(__file__).resolve().parent


def test_every_long_module_exists():
    assert [m for m in LONGEST_FIRST if not (TESTS / f"{m}.py").exists()] == []


def test_xdist_keeps_the_collection_order():
    addopts = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    assert "--dist loadfile" in addopts and "--no-loadscope-reorder" in addopts


class _Item:
    def __init__(self, stem: str, name: str):
        self.path, self.name = TESTS / f"{stem}.py", name


def test_long_modules_first_in_their_order_the_rest_as_collected():
    items = [_Item("test_cli", "a"), _Item("test_crash_safety", "b"), _Item("test_cli", "c"),
             _Item("test_airflow_e2e", "d"), _Item("test_crash_safety", "e"), _Item("test_bots", "f")]
    pytest_collection_modifyitems(None, items)
    assert [(i.path.stem, i.name) for i in items] == [
        ("test_airflow_e2e", "d"), ("test_crash_safety", "b"), ("test_crash_safety", "e"),
        ("test_cli", "a"), ("test_cli", "c"), ("test_bots", "f")]
