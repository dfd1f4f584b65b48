"""The rubric's own Python files (reference.py, misconceptions.py), imported on the trusted side."""

from __future__ import annotations

import importlib.util
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
    spec.loader.exec_module(module)
    return module
