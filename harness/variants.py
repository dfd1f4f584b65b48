"""Variants of a submission, as a student who copies one disguises it: every local name renamed,
the top-level definitions reordered. For the similarity tests and benchmark."""

from __future__ import annotations

import ast
import io
import keyword
import random
import tokenize

WORDS = ("acc", "buf", "cur", "dim", "idx", "lhs", "out", "res", "rhs", "tmp", "val", "vec", "win", "aux")


def local_names(source: str) -> set[str]:
    """Names a student chose: assigned variables and parameters (not functions, modules or attributes)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
    return found - set(dir(__builtins__)) - set(keyword.kwlist)


def rename_variables(source: str, seed: int) -> str:
    """`source` with each local name replaced by a made-up one (the same within the file)."""
    rng = random.Random(seed)
    names = sorted(local_names(source))
    renamed = {name: f"{rng.choice(WORDS)}_{name.lower()}{rng.randrange(100)}" for name in names}
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []
    previous = ""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.string in renamed and previous != ".":
            (row, start), (_, end) = token.start, token.end
            edits.append((row, start, end, renamed[token.string]))
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            previous = token.string
    for row, start, end, new in reversed(edits):
        line = lines[row - 1]
        lines[row - 1] = line[:start] + new + line[end:]
    return "".join(lines)


def top_level_chunks(source: str) -> tuple[str, list[str]]:
    """(what comes before the first definition, each top-level statement from there on, a
    definition with its decorators; comments between them are left out)."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    first = next((i for i, node in enumerate(tree.body) if isinstance(node, (ast.FunctionDef, ast.ClassDef))), None)
    if first is None:
        return source, []
    nodes = tree.body[first:]
    starts = [min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) for node in nodes]
    ends = [node.end_lineno or node.lineno for node in nodes]
    head = "".join(lines[:starts[0] - 1])
    return head, ["".join(lines[start - 1:end]) for start, end in zip(starts, ends, strict=True)]


def disguise(source: str, seed: int) -> str:
    """A copy of `source` with its names renamed and its top-level definitions shuffled."""
    head, chunks = top_level_chunks(rename_variables(source, seed))
    random.Random(seed).shuffle(chunks)
    return head + "\n\n".join(chunks) + "\n"
