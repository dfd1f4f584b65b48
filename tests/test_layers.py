"""The layers hold at run time: the API process loads no torch or pytest, and student code runs
next to nothing of the rubric (pyproject.toml [tool.importlinter] checks the imports themselves)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from grader.engine import Engine
from grader.rubric_spec import load_rubric

ROOT = Path(__file__).resolve().parent.parent
GRADING_ONLY = ("torch", "numpy", "pytest", "_pytest", "copydetect", "matplotlib", "grader.rubric", "grader.engine",
                "grader.sandbox", "grader.copy_detection", "workers")


def _asgi_app() -> tuple[str, str]:
    """The module and factory that docker-compose.yml tells uvicorn to serve."""
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["api"]["command"]
    target = next(arg for arg in command[1:] if ":" in arg and not arg.startswith("-"))
    module, factory = target.split(":")
    return module, factory


def _loaded_by(code: str) -> list[str]:
    """The modules a fresh interpreter holds after running `code`."""
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    return json.loads(out.splitlines()[-1])


def _of(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)]


def test_the_api_process_loads_no_grading_code():
    module, factory = _asgi_app()
    loaded = _loaded_by(f"import {module}\n{module}.{factory}()")
    assert module in loaded
    assert _of(loaded, GRADING_ONLY) == []
    assert _of(loaded, ("alembic",)) == []  # only a process that migrates loads it


def test_the_engine_does_load_them():
    """The check above can fail: the worker's side loads exactly what the API must not."""
    loaded = _loaded_by("import grader.engine, grader.copy_detection")
    assert {"torch", "pytest", "grader.rubric.checks", "copydetect", "matplotlib"} <= set(loaded)


RUBRIC = """
[assignment]
id = "layers"
module = "layers"
[[questions]]
id = "q1"
points = 1
"""
TESTS = """
from grader.rubric import question

@question("q1")
def test_nothing_of_the_rubric_is_loaded(student):
    loaded = student.rubric_modules()
    assert loaded == [], f"the sandbox holds {loaded}"
"""
REFERENCE = """
def rubric_modules():
    return []
"""
STUDENT = """
import sys

def rubric_modules():
    names = ("pytest", "_pytest", "grader.rubric", "grader.scoring", "grader.engine", "grader.services")
    return sorted(m for m in sys.modules if any(m == n or m.startswith(n + ".") for n in names))
"""


def test_student_code_runs_next_to_nothing_of_the_rubric(engine: Engine, tmp_path: Path):
    """Asked from inside a real sandbox: what the fork server and the child loaded is what a
    student's module can reach."""
    directory = tmp_path / "layers"
    directory.mkdir()
    (directory / "rubric.toml").write_text(RUBRIC)
    (directory / "test_sandbox_modules.py").write_text(textwrap.dedent(TESTS))
    (directory / "reference.py").write_text(textwrap.dedent(REFERENCE))
    report = engine.grade(textwrap.dedent(STUDENT).encode(), "layers.py", load_rubric(directory))
    assert report.score == 1, report.questions[0].output
