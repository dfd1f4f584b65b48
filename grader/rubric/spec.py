"""The rubric.toml format: questions, points, visibility and limits, validated on load."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Grading = Literal["auto", "manual"]
Visibility = Literal["visible", "hidden", "after_due_date"]
Device = Literal["auto", "cpu", "cuda"]

GRADINGS = ("auto", "manual")
VISIBILITIES = ("visible", "hidden", "after_due_date")
# How much of a question a student may see, least secret first.
SECRECY: dict[str, int] = {"visible": 0, "after_due_date": 1, "hidden": 2}
DEVICES = ("auto", "cpu", "cuda")


class RubricError(ValueError):
    """A rubric that cannot be used; the message says what to fix and where."""


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    points: float
    grading: Grading = "auto"
    visibility: Visibility = "visible"

    @property
    def auto(self) -> bool:
        return self.grading == "auto"

    @property
    def secrecy(self) -> int:
        """0 for a visible question; more for one a student sees later (or never)."""
        return SECRECY[self.visibility]


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission's sandboxes."""

    call_timeout_s: float = 10.0
    submission_timeout_s: float = 120.0
    memory_mb: int = 2048
    cpu_time_s: int = 120
    max_processes: int = 64
    max_file_mb: int = 16
    max_open_files: int = 256
    max_output_kb: int = 64


@dataclass(frozen=True)
class Rubric:
    assignment: str
    title: str
    module: str
    device: Device
    questions: tuple[Question, ...]
    limits: Limits
    directory: Path
    content_hash: str = field(compare=False)

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    @property
    def auto_questions(self) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.auto)

    @property
    def auto_points(self) -> float:
        return sum(q.points for q in self.auto_questions)

    @property
    def total_points(self) -> float:
        return sum(q.points for q in self.questions)

    @property
    def test_files(self) -> list[Path]:
        return sorted(self.directory.glob("test_*.py"))


def content_hash(directory: Path) -> str:
    """Hash of everything that can change a score: rubric.toml, the tests, the reference."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and "handout" not in path.relative_to(directory).parts:
            digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _require(table: dict, key: str, where: str) -> object:
    if key not in table:
        raise RubricError(f"{where}: missing required key {key!r}")
    return table[key]


def _choice(value: object, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise RubricError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _question(table: dict, index: int) -> Question:
    where = f"questions[{index}]"
    qid = str(_require(table, "id", where))
    where = f"question {qid!r}"
    points = _require(table, "points", where)
    if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
        raise RubricError(f"{where}: points must be a positive number, got {points!r}")
    return Question(
        id=qid,
        title=str(table.get("title", qid)),
        points=float(points),
        grading=_choice(table.get("grading", "auto"), GRADINGS, f"{where} grading"),  # type: ignore[arg-type]
        visibility=_choice(table.get("visibility", "visible"), VISIBILITIES, f"{where} visibility"),  # type: ignore[arg-type]
    )


def _limits(table: dict) -> Limits:
    known = Limits.__dataclass_fields__
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise RubricError(f"[limits]: unknown keys {', '.join(unknown)} (known: {', '.join(known)})")
    for key, value in table.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise RubricError(f"[limits] {key}: must be a positive number, got {value!r}")
    return Limits(**table)


def load_rubric(directory: Path | str) -> Rubric:
    """Read and validate `<directory>/rubric.toml` (the tests are checked when collected)."""
    directory = Path(directory).resolve()
    path = directory / "rubric.toml"
    if not path.is_file():
        raise RubricError(f"{directory}: no rubric.toml")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{path}: {exc}") from exc
    assignment = _require(data, "assignment", str(path))
    if not isinstance(assignment, dict):
        raise RubricError(f"{path}: [assignment] must be a table")
    questions = tuple(_question(q, i) for i, q in enumerate(data.get("questions", [])))
    if not questions:
        raise RubricError(f"{path}: no [[questions]]")
    seen: set[str] = set()
    for q in questions:
        if q.id in seen:
            raise RubricError(f"{path}: question id {q.id!r} appears twice")
        seen.add(q.id)
    rubric = Rubric(
        assignment=str(_require(assignment, "id", "[assignment]")),
        title=str(assignment.get("title", "")),
        module=str(assignment.get("module", "submission")),
        device=_choice(assignment.get("device", "auto"), DEVICES, "[assignment] device"),  # type: ignore[arg-type]
        questions=questions,
        limits=_limits(data.get("limits", {})),
        directory=directory,
        content_hash=content_hash(directory),
    )
    declared = assignment.get("total_points")
    if declared is not None and abs(float(declared) - rubric.total_points) > 1e-9:
        raise RubricError(
            f"{path}: questions add up to {rubric.total_points:g} points but total_points is {declared}"
        )
    declared_auto = assignment.get("auto_points")
    if declared_auto is not None and abs(float(declared_auto) - rubric.auto_points) > 1e-9:
        raise RubricError(
            f"{path}: auto questions add up to {rubric.auto_points:g} points but auto_points is {declared_auto}"
        )
    if not rubric.test_files and rubric.auto_questions:
        raise RubricError(f"{directory}: auto questions but no test_*.py files")
    return rubric
