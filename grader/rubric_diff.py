"""What changes between two rubric versions: questions added or removed, points, other settings, files.

Instructors read it before they publish a version (`grader rubric publish`, the rubric page), so it
speaks of what changes scores: a change of points or questions first, then the rest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from grader.rubric_spec import Question, Rubric, rubric_files


@dataclass(frozen=True)
class PointsChange:
    question_id: str
    title: str
    old: float
    new: float


@dataclass(frozen=True)
class RubricDiff:
    added: tuple[Question, ...]
    removed: tuple[Question, ...]
    points: tuple[PointsChange, ...]
    settings: tuple[str, ...]  # other changes, one sentence each: "1.1a: visibility visible -> hidden"
    files: tuple[str, ...]  # files added, removed or changed: tests, reference, rubric.toml
    old_total: float
    new_total: float

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.points or self.settings or self.files)

    def lines(self) -> list[str]:
        """The diff as plain lines, for the command line."""
        lines = [f"+ {q.id} ({q.points:g} points, {q.grading}): {q.title}" for q in self.added]
        lines += [f"- {q.id} ({q.points:g} points, {q.grading}): {q.title}" for q in self.removed]
        lines += [f"~ {p.question_id}: {p.old:g} -> {p.new:g} points" for p in self.points]
        lines += [f"~ {setting}" for setting in self.settings]
        if self.old_total != self.new_total:
            lines.append(f"total: {self.old_total:g} -> {self.new_total:g} points")
        lines += [f"file changed: {name}" for name in self.files]
        return lines


def _question_settings(old: Question, new: Question) -> list[str]:
    changes = []
    for name in ("title", "grading", "visibility"):
        if getattr(old, name) != getattr(new, name):
            changes.append(f"{new.id}: {name} {getattr(old, name)!r} -> {getattr(new, name)!r}")
    for name, value in asdict(new.tolerance).items():
        if getattr(old.tolerance, name) != value:
            changes.append(f"{new.id}: {name} {getattr(old.tolerance, name):g} -> {value:g}")
    return changes


def _rubric_settings(old: Rubric, new: Rubric) -> list[str]:
    changes = [f"{name} {getattr(old, name)!r} -> {getattr(new, name)!r}"
               for name in ("title", "module", "device") if getattr(old, name) != getattr(new, name)]
    old_limits = asdict(old.limits)
    changes += [f"[limits] {name} {old_limits[name]:g} -> {value:g}"
                for name, value in asdict(new.limits).items() if old_limits[name] != value]
    return changes


def _changed_files(old: Rubric, new: Rubric) -> tuple[str, ...]:
    before, after = rubric_files(old.directory), rubric_files(new.directory)
    return tuple(sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name)))


def diff_rubrics(old: Rubric, new: Rubric) -> RubricDiff:
    """From `old` (the published version) to `new` (the one about to be published)."""
    old_ids = {q.id for q in old.questions}
    new_ids = {q.id for q in new.questions}
    kept = [(old.question(q.id), q) for q in new.questions if q.id in old_ids]
    settings = _rubric_settings(old, new)
    for before, after in kept:
        settings += _question_settings(before, after)
    return RubricDiff(
        added=tuple(q for q in new.questions if q.id not in old_ids),
        removed=tuple(q for q in old.questions if q.id not in new_ids),
        points=tuple(PointsChange(after.id, after.title, before.points, after.points)
                     for before, after in kept if before.points != after.points),
        settings=tuple(settings),
        files=_changed_files(old, new),
        old_total=old.total_points,
        new_total=new.total_points,
    )
