"""Run a rubric's pytest tests in this (trusted) process against one student module."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from grader.rubric.plugin import RubricPlugin
from grader.rubric.spec import Rubric, RubricError
from grader.scoring import TestOutcome

os.environ.setdefault("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@lru_cache(maxsize=8)
def _load_reference(path: Path, content_hash: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"grader_reference_{content_hash}", path)
    if spec is None or spec.loader is None:
        raise RubricError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_reference(rubric: Rubric) -> ModuleType:
    """The trusted reference solution, imported once per rubric version."""
    path = rubric.directory / "reference.py"
    if not path.is_file():
        raise RubricError(f"{rubric.directory}: no reference.py")
    return _load_reference(path, rubric.content_hash)


class GradingAborted(RuntimeError):
    """The rubric itself failed (not the student): the run must not be recorded as a score."""


def run_rubric(rubric: Rubric, student: Callable[[], Any]) -> list[TestOutcome]:
    """Every test's outcome; `student` builds the object the `student` fixture returns."""
    plugin = RubricPlugin(rubric, student, load_reference(rubric))
    args = [
        *(str(p) for p in rubric.test_files),
        "--rootdir", str(rubric.directory),
        "-c", str(Path(__file__).with_name("pytest.ini")),
        "--import-mode=importlib",
        "-p", "no:cacheprovider",
        "-p", "no:terminal",
        "-p", "no:stepwise",
    ]
    before = set(sys.modules)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            exit_code = pytest.main(args, plugins=[plugin])
    finally:
        # pytest names test modules by their path inside the rubric ("test_conv") and reuses a
        # cached one: forget them, or a worker would grade with last version's tests (or hw2's
        # test_conv.py for hw3).
        for name in set(sys.modules) - before:
            if getattr(sys.modules[name], "__file__", None) and Path(sys.modules[name].__file__).is_relative_to(rubric.directory):
                del sys.modules[name]
    plugin.raise_problems()
    if plugin.internal_errors:
        raise GradingAborted("\n".join(plugin.internal_errors))
    if exit_code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise GradingAborted(f"pytest stopped with {exit_code!r}")
    return plugin.outcomes
