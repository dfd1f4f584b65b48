"""Known wrong implementations of a student function, declared by a rubric's misconceptions.py.

An author writes each one as the function a student with that mistake would write, with the
student function's signature:

    @misconception("conv1d_forward", id="forward-no-stride", title="the stride is ignored",
                   hint="with stride S, output t starts at input t*S", when=lambda x, W, stride=1: stride != 1)
    def conv1d_forward_no_stride(x, W, stride=1): ...

`when` (same signature) says on which calls the mistake is used: only where it gives another
answer than the correct one (`grader rubric check` proves it does there). The module is trusted
rubric code like reference.py: it runs in the grader's process on the inputs the tests built, and
students never see it; they read only a named mistake's title and hint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any, TypeVar

from grader.rubric.files import import_rubric_file
from grader.rubric_spec import (
    MAX_FUNCTION_NAME_CHARS,
    MAX_MISCONCEPTION_ID_CHARS,
    Rubric,
    RubricError,
    check_length,
)
from grader.scoring import KnownMistake

F = TypeVar("F", bound=Callable[..., Any])
MARK = "__misconception__"
FILENAME = "misconceptions.py"


@dataclass(frozen=True)
class Misconception:
    """One known mistake in one student function: how to compute it and what to tell the student."""

    mistake: KnownMistake
    compute: Callable[..., Any]
    when: Callable[..., bool] | None = None

    @property
    def function(self) -> str:
        return self.mistake.function

    def applies(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        """Whether this mistake is used for a call with these arguments."""
        return self.when is None or bool(self.when(*args, **kwargs))


def misconception(function: str, *, id: str, title: str, hint: str,
                  when: Callable[..., bool] | None = None) -> Callable[[F], F]:
    """Mark a function of misconceptions.py as a known mistake in the student's `function`."""
    for name, text in (("function", function), ("id", id), ("title", title), ("hint", hint)):
        if not isinstance(text, str) or not text.strip():
            raise RubricError(f"@misconception: {name} must be a non-empty string, got {text!r}")
    check_length(function, MAX_FUNCTION_NAME_CHARS, "function", "@misconception")
    check_length(id, MAX_MISCONCEPTION_ID_CHARS, "id", "@misconception")
    if when is not None and not callable(when):
        raise RubricError(f"@misconception {id!r}: when must be a function of the call's arguments")

    def mark(compute: F) -> F:
        setattr(compute, MARK, Misconception(KnownMistake(function, id, title.strip(), hint.strip()), compute, when))
        return compute

    return mark


Catalog = Mapping[str, tuple[Misconception, ...]]  # student function -> its misconceptions, in file order
EMPTY: Catalog = MappingProxyType({})


def catalog_of(module: ModuleType) -> Catalog:
    """The misconceptions a module declares, by student function; ids are unique in a rubric, so
    a report's id alone says which mistake of which function it is."""
    found: dict[str, list[Misconception]] = {}
    seen: set[str] = set()
    for value in vars(module).values():
        declared = getattr(value, MARK, None)
        if not isinstance(declared, Misconception):
            continue
        if declared.mistake.id in seen:
            raise RubricError(f"{FILENAME}: misconception id {declared.mistake.id!r} is used twice")
        seen.add(declared.mistake.id)
        found.setdefault(declared.function, []).append(declared)
    return MappingProxyType({function: tuple(items) for function, items in found.items()})


@lru_cache(maxsize=8)
def _load(path: Path, content_hash: str) -> Catalog:
    return catalog_of(import_rubric_file(path, f"grader_misconceptions_{content_hash}"))


def load_misconceptions(rubric: Rubric) -> Catalog:
    """The rubric's misconceptions (none if it has no misconceptions.py), loaded once per version."""
    path = rubric.directory / FILENAME
    return _load(path, rubric.content_hash) if path.is_file() else EMPTY
