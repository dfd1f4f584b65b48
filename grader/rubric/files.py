"""The rubric's own Python files (reference.py, misconceptions.py), imported on the trusted side."""

from __future__ import annotations

import importlib.util
import traceback
from pathlib import Path
from types import ModuleType

from grader.rubric_spec import RubricError


def import_rubric_file(path: Path, module_name: str) -> ModuleType:
    """Import `path` under `module_name`, which callers make unique per rubric version (its content
    hash), so two versions loaded by one worker never share a module."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise RubricError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the author's mistake: say where it is, not the importer's traceback
        raise RubricError(f"{_where(exc, path)}: {type(exc).__name__}: {_detail(exc)}") from exc
    return module


def _where(exc: Exception, path: Path) -> str:
    """`path:line`, the line being where Python could not parse the file or the last of the file's
    lines the error went through (just `path` if none is known)."""
    if isinstance(exc, SyntaxError):
        lines = [exc.lineno]
    else:
        lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == str(path)]
    return f"{path}:{lines[-1]}" if lines and lines[-1] else str(path)


def _detail(exc: Exception) -> str:
    """The error's message; a SyntaxError's without its own "(file, line N)"."""
    return str(exc.msg) if isinstance(exc, SyntaxError) else str(exc)
