"""HW2 submissions with known scores (expected.toml), and the one way to read any of them: the
tests grade them and check the scores, the benchmark builds its population from them.

The correct ones (several styles and a notebook) are whole files in this folder. A buggy one is a
patch, buggy/<name>.py: a docstring naming the bug and only the functions that differ, appended to
the correct file that its entry in expected.toml names as `base`. Appended definitions replace the
base's at import, so the assembled file behaves as a student's file with that bug would.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

SUBMISSIONS = Path(__file__).resolve().parent
PATCHES = SUBMISSIONS / "buggy"
SUFFIXES = (".py", ".ipynb")


def expected() -> dict[str, dict]:
    """expected.toml: a table per submission name (`total`, `questions`, and `base` for a patch)."""
    return tomllib.loads((SUBMISSIONS / "expected.toml").read_text())


def submission_names() -> list[str]:
    """Every submission on disk, sorted: the whole files' stems and the patches' stems."""
    whole = [p.stem for p in SUBMISSIONS.iterdir() if p.suffix in SUFFIXES and p.stem != "__init__"]
    return sorted(whole + [p.stem for p in PATCHES.glob("*.py")])


def submission_source(name: str) -> tuple[str, str]:
    """(filename, text) of the submission `name`: a whole file as it is, a patch appended to its base."""
    patch = PATCHES / f"{name}.py"
    if patch.is_file():
        base = expected().get(name, {}).get("base")
        if base is None:
            raise LookupError(f"{patch}: expected.toml gives [{name}] no `base`")
        base_file, base_text = submission_source(base)
        if not base_file.endswith(".py"):
            raise LookupError(f"{patch}: its base {base_file} is not a .py file")
        return patch.name, base_text + "\n\n" + patch.read_text()
    matches = [p for p in SUBMISSIONS.iterdir() if p.stem == name and p.suffix in SUFFIXES]
    if len(matches) != 1:
        raise LookupError(f"submission {name!r}: want one .py or .ipynb file or patch, found {matches}")
    return matches[0].name, matches[0].read_text()
