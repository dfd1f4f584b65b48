"""A deterministic population of HW2 submissions, so the figures are not for one easy file.

Templates come from harness/samples/ (correct ones in several styles, buggy ones, a notebook;
read through its `submission_source`, which builds a buggy one from its patch and correct base)
plus hostile variants made by appending code to a correct file:

- `timeout`: `initial_loss(1000)` sleeps an hour (one call times out, the rest of the file is right);
- `crash`: `gated_rnn_grad_Wx` dereferences NULL through ctypes (SIGSEGV, twice: two test cases);
- `import_error`: the module raises at import (every auto question fails, one import attempt).

Every generated file gets a header comment naming its index, so no two uploads are the same bytes.
Each hostile variant also carries a `tame_source`: the same file with the hostile statement replaced
by an ordinary exception, which the in-process floor can run without hanging or crashing the
benchmark (its floor is that run plus the time limit it would use up; see benchmarks/floor.py).
"""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from harness.samples import expected as expected_scores
from harness.samples import submission_names, submission_source

ROOT = Path(__file__).resolve().parent.parent
RUBRIC_DIR = ROOT / "rubrics" / "hw2"

CATEGORIES = ("correct", "buggy", "timeout", "crash", "import_error")
HOSTILE = ("timeout", "crash", "import_error")
HOSTILE_FRACTION = 0.06  # of the population; at least one hostile file in any population

_HOSTILE_CODE = {
    # (appended code, the statement that the tame variant replaces, its replacement, timeouts per grade)
    "timeout": (
        '''
import time as _bench_time

_bench_initial_loss = initial_loss


def initial_loss(num_classes):
    if num_classes == 1000:
        _bench_time.sleep(3600)
    return _bench_initial_loss(num_classes)
''',
        "_bench_time.sleep(3600)",
        'raise TimeoutError("benchmark: stands in for a call that times out")',
        1,
    ),
    "crash": (
        '''
import ctypes as _bench_ctypes

_bench_gated_rnn_grad_Wx = gated_rnn_grad_Wx


def gated_rnn_grad_Wx(*args, **kwargs):
    _bench_ctypes.string_at(0)  # SIGSEGV
    return _bench_gated_rnn_grad_Wx(*args, **kwargs)
''',
        "_bench_ctypes.string_at(0)  # SIGSEGV",
        'raise RuntimeError("benchmark: stands in for a segfault")',
        0,
    ),
    "import_error": (
        '''
raise RuntimeError("benchmark: this submission fails at import")
''',
        None,  # the floor cannot import it at all: every call fails (benchmarks/floor.py)
        None,
        0,
    ),
}


@dataclass
class Submission:
    index: int
    name: str  # e.g. "0007-buggy_grad_W_ones"
    category: str  # one of CATEGORIES
    template: str  # the file stem it came from
    filename: str  # what the student uploads: hw2.py or hw2.ipynb
    data: bytes
    expected_score: float | None  # from expected.toml (None for hostile variants)
    tame_source: str | None = None  # hostile variants: what the in-process floor runs instead
    timeouts: int = 0  # calls that time out when graded (the floor adds call_timeout_s for each)
    meta: dict = field(default_factory=dict)

    @property
    def times_out(self) -> bool:
        return self.timeouts > 0

    @property
    def hostile(self) -> bool:
        return self.category in HOSTILE


def _templates() -> tuple[list[str], list[str]]:
    """The names of the correct and of the buggy submissions in harness/samples/."""
    names = submission_names()
    correct = [n for n in names if n.startswith("correct_")]
    buggy = [n for n in names if n.startswith("buggy_")]
    if not correct or not buggy:
        raise RuntimeError("harness/samples: need correct_* and buggy_* submissions")
    return correct, buggy


def _with_header(filename: str, text: str, header: str) -> bytes:
    """The file with a comment naming this copy: a first line for .py, a first code cell for notebooks."""
    if filename.endswith(".ipynb"):
        notebook = json.loads(text)
        notebook["cells"].insert(0, {"cell_type": "code", "execution_count": None, "metadata": {},
                                     "outputs": [], "source": [header]})
        return (json.dumps(notebook, indent=1) + "\n").encode()
    return (header + "\n" + text).encode()


def _hostile(index: int, category: str, base: str, header: str) -> Submission:
    code, statement, replacement, timeouts = _HOSTILE_CODE[category]
    source = header + "\n" + submission_source(base)[1] + "\n\n# --- appended by the benchmark ---\n" + code
    tame = source.replace(statement, replacement) if statement else None
    if statement and tame == source:
        raise AssertionError(f"{category}: the tame replacement did not apply")
    return Submission(index, f"{index:04d}-{category}", category, f"{base}+{category}", "hw2.py",
                      source.encode(), None, tame_source=tame, timeouts=timeouts)


def generate(size: int, seed: int = 0) -> list[Submission]:
    """`size` submissions: ~6% hostile (at least one, timeout first), the rest ~40% correct, ~60% buggy.

    Every template is used before any is used twice; the order is shuffled with `seed`.
    """
    if size < 1:
        raise ValueError("size must be at least 1")
    rng = random.Random(seed)
    correct, buggy = _templates()
    expected = expected_scores()
    hostile_n = max(1, round(size * HOSTILE_FRACTION)) if size >= 2 else 0
    correct_n = round((size - hostile_n) * 0.4)
    if size - hostile_n >= 2:
        correct_n = max(1, correct_n)
    buggy_n = size - hostile_n - correct_n

    def cycle(items: list[str], n: int) -> list[str]:
        order: list[str] = []
        while len(order) < n:
            batch = list(items)
            rng.shuffle(batch)
            order += batch
        return order[:n]

    plan: list[tuple[str, str]] = [("correct", n) for n in cycle(correct, correct_n)]
    plan += [("buggy", n) for n in cycle(buggy, buggy_n)]
    py_correct = [n for n in correct if submission_source(n)[0].endswith(".py")]
    plan += [(HOSTILE[i % len(HOSTILE)], py_correct[i % len(py_correct)]) for i in range(hostile_n)]
    rng.shuffle(plan)

    population: list[Submission] = []
    for index, (category, name) in enumerate(plan):
        filename, text = submission_source(name)
        header = f"# benchmark submission {index:04d} (seed {seed}): {category}, from {filename}"
        if category in HOSTILE:
            population.append(_hostile(index, category, name, header))
            continue
        score = expected.get(name, {}).get("total")
        population.append(Submission(
            index, f"{index:04d}-{name}", category, name, "hw2" + Path(filename).suffix,
            _with_header(filename, text, header), float(score) if score is not None else None,
        ))
    return population


def summary(population: list[Submission]) -> dict:
    counts = {c: sum(s.category == c for s in population) for c in CATEGORIES}
    return {"size": len(population), "by_category": counts,
            "templates": sorted({s.template for s in population})}


def rubric_copy(target: Path, call_timeout_s: float | None, submission_timeout_s: float | None = None) -> Path:
    """rubrics/hw2 copied under `target`/hw2, with shorter time limits if asked (None: the real ones).

    Only [limits] changes; tests, reference and questions are the real rubric's (the content hash
    differs because rubric.toml does).
    """
    directory = target / "hw2"
    if directory.exists():
        shutil.rmtree(directory)
    shutil.copytree(RUBRIC_DIR, directory, ignore=shutil.ignore_patterns("__pycache__"))
    if call_timeout_s is not None:
        toml = directory / "rubric.toml"
        text = toml.read_text()
        limits = {"call_timeout_s": call_timeout_s,
                  "submission_timeout_s": submission_timeout_s or max(30.0, 30 * call_timeout_s)}
        for key, value in limits.items():
            text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value:g}", text)
            if n != 1:
                raise RuntimeError(f"{toml}: no single {key} line to change")
        toml.write_text(text)
    return directory
