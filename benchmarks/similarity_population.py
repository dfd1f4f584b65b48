"""A synthetic class for the similarity benchmark: independent-looking solutions and planted copies.

Each file takes each HW2 function from one of the correct samples, chosen at random (so two files
share some functions, as students' solutions to small functions do), is disguised (names renamed,
definitions shuffled: harness.variants) and gets a few helper functions of its own, random code as
a student's scratch work. A few files are disguised copies of an earlier file: the pairs a run
must find. Deterministic for a seed.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass

from harness.samples import submission_names, submission_source
from harness.variants import disguise, top_level_chunks

STYLES = [name for name in submission_names()
          if name.startswith("correct_") and submission_source(name)[0].endswith(".py")]
PARAMS = ("a", "b", "n", "m", "x", "y", "k")
OPERATORS = ("+", "-", "*", "//", "%")


@dataclass(frozen=True)
class SimilarityPopulation:
    files: list[tuple[int, str]]  # (key, source)
    copies: set[tuple[int, int]]  # (original, copy) keys, original < copy

    @property
    def mean_lines(self) -> float:
        return sum(text.count("\n") for _, text in self.files) / len(self.files)


def _definitions(style: str) -> tuple[str, dict[str, str]]:
    """A sample's head (docstring, imports) and its top-level definitions by name."""
    head, chunks = top_level_chunks(submission_source(style)[1])
    named = {}
    for chunk in chunks:
        node = ast.parse(chunk).body[0]
        if isinstance(node, ast.FunctionDef):
            named[node.name] = chunk
    return head, named


def _expression(rng: random.Random, names: list[str], depth: int) -> str:
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(names) if rng.random() < 0.6 else str(rng.randint(2, 99))
    left, right = _expression(rng, names, depth - 1), _expression(rng, names, depth - 1)
    return f"({left} {rng.choice(OPERATORS)} {right})"


def _scratch(rng: random.Random, index: int) -> str:
    """A helper function of random arithmetic, loops and branches: code no one else has."""
    names = rng.sample(PARAMS, rng.randint(1, 3))
    lines = [f"def helper_{index}({', '.join(names)}):"]
    for _ in range(rng.randint(3, 6)):
        kind = rng.random()
        if kind < 0.5:
            lines.append(f"    t{len(names)} = {_expression(rng, names, 3)}")
            names.append(f"t{len(names)}")
        elif kind < 0.75:
            lines += [f"    for i in range({rng.randint(2, 9)}):",
                      f"        {rng.choice(names)} += {_expression(rng, names + ['i'], 2)}"]
        else:
            lines += [f"    if {_expression(rng, names, 2)} > {rng.randint(0, 50)}:",
                      f"        {rng.choice(names)} = {_expression(rng, names, 2)}"]
    lines.append(f"    return {_expression(rng, names, 2)}")
    return "\n".join(lines) + "\n"


def generate(size: int, copies: int, seed: int = 0) -> SimilarityPopulation:
    """`size` files, `copies` of which are disguised copies of an earlier one."""
    if not 0 <= copies <= size // 2:
        raise ValueError(f"copies must be between 0 and half the size ({size // 2}), not {copies}")
    rng = random.Random(seed)
    styles = {style: _definitions(style) for style in STYLES}
    functions = sorted(set.intersection(*(set(named) for _, named in styles.values())))
    files: list[tuple[int, str]] = []
    planted: set[tuple[int, int]] = set()
    copy_at = set(rng.sample(range(1, size), copies)) if copies else set()
    for key in range(size):
        if key in copy_at:
            original = rng.choice([k for k, _ in files if k not in {c for _, c in planted}])
            files.append((key, disguise(files[original][1], seed * 100_003 + key)))
            planted.add((original, key))
            continue
        head = styles[rng.choice(STYLES)][0]
        chosen = [styles[rng.choice(STYLES)][1][name] for name in functions]
        helpers = [_scratch(rng, i) for i in range(rng.randint(3, 5))]
        text = head + "\n\n".join(chosen + helpers) + "\n"
        files.append((key, disguise(text, seed * 100_003 + key)))
    return SimilarityPopulation(files, planted)
