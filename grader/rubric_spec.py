"""The rubric.toml format: questions, points, visibility and limits, validated on load."""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal, TypeVar

GradingMode = Literal["auto", "manual"]  # who scores a question: the tests or an instructor
Visibility = Literal["visible", "hidden", "after_due_date"]
RequestedDevice = Literal["auto", "cpu", "cuda"]  # where the rubric wants its submissions run

GRADING_MODES: tuple[GradingMode, ...] = ("auto", "manual")
VISIBILITIES: tuple[Visibility, ...] = ("visible", "hidden", "after_due_date")
# How much of a question a student may see, least secret first.
SECRECY: dict[str, int] = {"visible": 0, "after_due_date": 1, "hidden": 2}
REQUESTED_DEVICES: tuple[RequestedDevice, ...] = ("auto", "cpu", "cuda")
Choice = TypeVar("Choice", bound=str)
# The longest question id, question title and test case name the database stores (grader.db.models).
MAX_QUESTION_ID_CHARS = 50
MAX_QUESTION_TITLE_CHARS = 300
MAX_CASE_NAME_CHARS = 300
MAX_FUNCTION_NAME_CHARS = 100  # a student function a wrong answer came from
MAX_MISCONCEPTION_ID_CHARS = 100


class RubricError(ValueError):
    """A rubric that cannot be used; the message says what to fix and where."""


@dataclass(frozen=True)
class Tolerance:
    """How far a value check lets a number be off: |actual - expected| <= atol + rtol * |expected|.
    Declared once per rubric (`[checks]`, optionally per question) so no test file repeats it."""

    rtol: float = 1e-5
    atol: float = 1e-8


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    points: float
    grading: GradingMode = "auto"
    visibility: Visibility = "visible"
    tolerance: Tolerance = Tolerance()  # the rubric's [checks], with this question's overrides

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
    # Importing runs the module's top-level code: a notebook's training or plotting cells may take
    # longer than any one call should (within the submission's time all the same).
    import_timeout_s: float = 60.0
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
    device: RequestedDevice
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


def rubric_files(directory: Path) -> dict[str, bytes]:
    """Everything that can change a score, by path inside the folder: rubric.toml, the tests, the
    reference (not the handout, not bytecode). A rubric version is exactly these files."""
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and "handout" not in path.relative_to(directory).parts
    }


def files_hash(files: dict[str, bytes]) -> str:
    """The version's name: a hash of its files' paths and contents."""
    digest = hashlib.sha256()
    for name in sorted(files, key=lambda name: PurePosixPath(name).parts):  # the folder's order, as before
        digest.update(name.encode() + b"\0")
        digest.update(files[name] + b"\0")
    return digest.hexdigest()[:16]


def content_hash(directory: Path) -> str:
    """Hash of everything that can change a score (`rubric_files`)."""
    return files_hash(rubric_files(directory))


def _require(table: dict[str, Any], key: str, where: str) -> object:
    if key not in table:
        raise RubricError(f"{where}: missing required key {key!r}")
    return table[key]


def _choice(value: object, allowed: tuple[Choice, ...], where: str) -> Choice:
    for choice in allowed:
        if value == choice:
            return choice
    raise RubricError(f"{where}: {value!r} is not one of {', '.join(allowed)}")


def positive_number(value: object, where: str) -> float:
    """An amount a rubric declares (points, a limit, a tolerance, a weight): inf, nan, zero,
    negatives and booleans are all mistakes."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise RubricError(f"{where}: must be a positive finite number, got {value!r}")
    return float(value)


def check_length(text: str, limit: int, what: str, where: str) -> str:
    """`text`, if its database column can hold it: a longer one would fail every grade on PostgreSQL."""
    if len(text) > limit:
        raise RubricError(f"{where}: {what} is {len(text)} characters; at most {limit}")
    return text


def _known_keys(table: object, known: Iterable[str], section: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise RubricError(f"{section} must be a table")
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise RubricError(f"{section}: unknown keys {', '.join(unknown)} (known: {', '.join(known)})")
    return table


def _tolerance(table: dict[str, Any], base: Tolerance, where: str) -> Tolerance:
    """`base` with the rtol/atol that `table` sets."""
    return replace(base, **{key: positive_number(table[key], f"{where} {key}")
                            for key in Tolerance.__dataclass_fields__ if key in table})


# The keys each table may have: any other is a typo that would silently fall back to a default
# (a misspelled `visibility` would publish a hidden question).
TOP_LEVEL_KEYS = ("assignment", "checks", "limits", "questions")
ASSIGNMENT_KEYS = ("id", "title", "module", "device", "total_points", "auto_points")
QUESTION_KEYS = ("id", "title", "points", "grading", "visibility", *Tolerance.__dataclass_fields__)


def _question(table: object, index: int, checks: Tolerance) -> Question:
    where = f"questions[{index}]"
    if not isinstance(table, dict):
        raise RubricError(f"{where} must be a table")
    qid = str(_require(table, "id", where))
    where = f"question {qid!r}"
    _known_keys(table, QUESTION_KEYS, where)
    return Question(
        id=check_length(qid, MAX_QUESTION_ID_CHARS, "id", where),
        title=check_length(str(table.get("title", qid)), MAX_QUESTION_TITLE_CHARS, "title", where),
        points=positive_number(_require(table, "points", where), f"{where} points"),
        grading=_choice(table.get("grading", "auto"), GRADING_MODES, f"{where} grading"),
        visibility=_choice(table.get("visibility", "visible"), VISIBILITIES, f"{where} visibility"),
        tolerance=_tolerance(table, checks, where),
    )


def _limits(table: object) -> Limits:
    table = _known_keys(table, Limits.__dataclass_fields__, "[limits]")
    for key, value in table.items():
        positive_number(value, f"[limits] {key}")
    return Limits(**table)


def load_rubric(directory: Path | str) -> Rubric:
    """Read and validate `<directory>/rubric.toml` (the tests are checked when collected)."""
    directory = Path(directory).resolve()
    path = directory / "rubric.toml"
    if not path.is_file():
        raise RubricError(f"{directory}: no rubric.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RubricError(f"{path}: {exc}") from exc
    _known_keys(data, TOP_LEVEL_KEYS, str(path))
    assignment = _require(data, "assignment", str(path))
    if not isinstance(assignment, dict):
        raise RubricError(f"{path}: [assignment] must be a table")
    _known_keys(assignment, ASSIGNMENT_KEYS, "[assignment]")
    checks = _tolerance(_known_keys(data.get("checks", {}), Tolerance.__dataclass_fields__, "[checks]"),
                        Tolerance(), "[checks]")
    questions = tuple(_question(q, i, checks) for i, q in enumerate(data.get("questions", [])))
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
        device=_choice(assignment.get("device", "auto"), REQUESTED_DEVICES, "[assignment] device"),
        questions=questions,
        limits=_limits(data.get("limits", {})),
        directory=directory,
        content_hash=content_hash(directory),
    )
    for key, which, actual in (("total_points", "questions", rubric.total_points),
                               ("auto_points", "auto questions", rubric.auto_points)):
        if key in assignment:
            declared = positive_number(assignment[key], f"[assignment] {key}")
            if abs(declared - actual) > 1e-9:
                raise RubricError(f"{path}: {which} add up to {actual:g} points but {key} is {declared:g}")
    if not rubric.test_files and rubric.auto_questions:
        raise RubricError(f"{directory}: auto questions but no test_*.py files")
    return rubric
