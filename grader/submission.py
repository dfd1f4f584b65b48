"""Turn an uploaded file (a .py module or a Jupyter notebook) into the module source to grade.

`prepare` (`prepare_source` for the source alone) is the one place that decides whether an
upload can be graded: the upload route answers 422 with its message, the engine grades zero with
it. Whatever the bytes hold, it returns source or raises SubmissionError, never another exception.

A notebook is graded as the one module of its code cells, each at lines of its own, run as
Jupyter runs them top to bottom: the IPython lines that run Python run it, the others are blank.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, replace
from typing import Any

SUPPORTED_SUFFIXES = (".py", ".ipynb")
NBFORMAT = 4  # the notebook format Jupyter has written since 2015, the only one with top-level cells
PYTHON_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what Python's compiler counts; splitlines() counts more
# `%time STMT` and `%timeit STMT` with IPython's options for them (timeit's are "n:r:tcp:qov:").
TIMEIT_OPTIONS = r"(?:\s+-(?:[tcqo]+(?:[nrpv]\s*\S+)?|[nrpv]\s*\S+))*"
STATEMENT_MAGIC = re.compile(rf"(\s*)%(?:time(?:\s+--no-raise-error)?|timeit{TIMEIT_OPTIONS})(?:\s+(.*))?")
CELL_MAGIC = re.compile(r"\s*%%(\w*)")
RUNS_ITS_BODY = ("time", "timeit", "capture")  # cell magics that run their cell as Python in the notebook
# What a notebook may call without defining it (IPython's builtins), as a plain console has them.
IPYTHON_BUILTINS = {
    "display": ("def display(*objs, **kwargs):  # IPython's, printing as a console does (added by the grader)",
                "    for obj in objs:",
                "        print(repr(obj))"),
    "get_ipython": ("def get_ipython():  # IPython's: None where no IPython shell runs (added by the grader)",
                    "    return None"),
}


class SubmissionError(ValueError):
    """The upload cannot be graded at all; the message tells the student why."""


def _invalid_notebook(reason: str) -> SubmissionError:
    return SubmissionError(f"not a valid Jupyter notebook: {reason}")


def _load_notebook(data: str) -> dict[str, Any]:
    try:
        notebook = json.loads(data)
    except json.JSONDecodeError as exc:
        raise _invalid_notebook(str(exc)) from None
    except RecursionError:
        raise _invalid_notebook("its JSON is nested too deeply") from None
    except ValueError:  # the only other failure of json.loads: an int of more than 4,300 digits
        raise _invalid_notebook("it holds a number with too many digits") from None
    if not isinstance(notebook, dict):
        raise _invalid_notebook("it is not a JSON object")
    if notebook.get("nbformat") != NBFORMAT:
        raise _invalid_notebook(f"only nbformat {NBFORMAT} notebooks (Jupyter 4 and later) can be graded")
    return notebook


def _cell_text(cell: dict[str, Any], number: int) -> str | None:
    """A code cell's source; None for any other cell, whose content is never read."""
    if cell.get("cell_type") != "code":
        return None
    source = cell.get("source")
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    raise _invalid_notebook(f"the source of cell {number} is not text or a list of lines")


def python_lines(text: str) -> list[str]:
    """`text` split into lines where Python ends them (a U+2028 in a comment ends none)."""
    lines = PYTHON_LINE_BREAK.split(text)
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # the line break that ends the last line starts no new one
    return lines


def python_line(line: str) -> str | None:
    """The Python a notebook line runs: the line itself, or for `%time STMT` and `%timeit STMT`
    (their options left out) STMT, once; None for any other IPython line magic or shell escape,
    which the module holds as a blank line."""
    if (magic := STATEMENT_MAGIC.fullmatch(line)) and magic[2]:
        return magic[1] + magic[2]
    return None if line.lstrip().startswith(("%", "!")) else line


def runs_as_python(line: str) -> bool:
    """False for an IPython line that runs no Python: the graded module has a blank line there."""
    return python_line(line) is not None


@dataclass(frozen=True)
class NotebookCell:
    """A notebook cell as the grader reads it. `first_line` is the line of the graded module that
    holds the cell's first line (its lines follow one per line), None for a cell that is not graded:
    what the feedback says of line N is shown at line N."""

    number: int  # from 1, in notebook order
    cell: dict[str, Any]  # its JSON, for whoever shows it; only a code cell's source is checked
    lines: tuple[str, ...]  # a code cell's source lines as written, magics included; () otherwise
    first_line: int | None
    code: tuple[str, ...] = ()  # a graded cell's lines as the module holds them, one for each of `lines`


@dataclass(frozen=True)
class GradedNotebook:
    """A notebook as the module it is graded as: `prelude` (the lines before the first cell), then
    each graded cell's header comment and code at the lines its NotebookCell gives."""

    cells: list[NotebookCell]
    prelude: tuple[str, ...]

    @property
    def left_out(self) -> str:
        """Why code cells are not in the module ('' when all are), for the feedback of a function
        that it lacks, which may be in one of them."""
        skipped = {str(cell.number): f"%%{magic[1]}" for cell in self.cells
                   if cell.first_line is None and (magic := _cell_magic(cell.lines))}
        if not skipped:
            return ""
        one = len(skipped) == 1
        return (f"notebook cell{'' if one else 's'} {_listed(list(skipped))} {'was' if one else 'were'} left out: "
                f"{'it starts' if one else 'they start'} with {_listed(list(dict.fromkeys(skipped.values())))}, "
                "and of the cells that start with a cell magic only %%time, %%timeit and %%capture ones are graded")

    def source(self) -> str:
        module = list(self.prelude)
        for cell in self.cells:
            if cell.first_line is None:
                continue
            module += [""] * (cell.first_line - 2 - len(module))  # the blank line before a cell
            module.append(f"# notebook cell {cell.number}")
            module += cell.code
        return "\n".join(module) + "\n"


def _parsed(code: list[str]) -> ast.Module | None:
    """The cell's code as Python reads it, or None where it does not read (the module will not
    compile either, and its error names the line)."""
    try:
        return ast.parse("\n".join(code))
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # MemoryError: the parser's own stack
        return None


def _cut(code: list[str], statement: ast.stmt) -> None:
    """Take `statement` out of `code` without moving a line: its lines become blank, or `pass` where
    they hold other code too (`from __future__ import annotations; import torch`)."""
    first, last = statement.lineno - 1, (statement.end_lineno or statement.lineno) - 1
    before = code[first].encode()[: statement.col_offset].decode()  # ast's columns count UTF-8 bytes
    after = code[last].encode()[statement.end_col_offset or 0 :].decode()
    code[first : last + 1] = [before + "pass" + after if (before + after).strip() else ""] + [""] * (last - first)


def _listed(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _cell_magic(lines: tuple[str, ...]) -> tuple[int, str] | None:
    """The line and name of the cell magic that opens the cell (after blank lines, which IPython
    skips), or None."""
    start = next((number for number, line in enumerate(lines) if line.strip()), 0)
    magic = CELL_MAGIC.match(lines[start]) if lines else None
    return (start, magic[1]) if magic else None


@dataclass(frozen=True)
class _CellCode:
    """A graded cell's code as the module holds it, and what it needs before the first cell."""

    lines: tuple[str, ...]
    futures: tuple[str, ...] = ()  # the features of the `from __future__` imports taken out of it
    reads: frozenset[str] = frozenset()  # of IPython's builtins, those it reads
    binds: frozenset[str] = frozenset()  # and those it defines, assigns or imports


def _builtins_used(tree: ast.Module | None) -> tuple[frozenset[str], frozenset[str]]:
    """Which of IPython's builtins the code reads, and which it binds itself."""
    reads: set[str] = set()
    binds: set[str] = set()
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Name):
            (reads if isinstance(node.ctx, ast.Load) else binds).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            binds.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            binds.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return frozenset(reads & IPYTHON_BUILTINS.keys()), frozenset(binds & IPYTHON_BUILTINS.keys())


def _cell_code(lines: list[str]) -> _CellCode:
    """The cell without the `from __future__` imports that open it (after its docstring). IPython
    compiles each cell on its own, where they are legal; in the one module they must come first,
    so they are moved there (for the cells above too, which for `annotations` only defers their
    annotations)."""
    tree = _parsed(lines)
    body = tree.body if tree is not None else []
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        body = body[1:]  # the cell's docstring, which may come before them
    code, futures = list(lines), []
    for statement in body:
        if not (isinstance(statement, ast.ImportFrom) and statement.module == "__future__"):
            break
        futures += [f"{a.name} as {a.asname}" if a.asname else a.name for a in statement.names]
        _cut(code, statement)
    return _CellCode(tuple(code), tuple(futures), *_builtins_used(tree))


def _prelude(cells: list[_CellCode]) -> tuple[str, ...]:
    """The lines the module starts with, before any cell: the `from __future__` imports, then
    IPython's builtins that the notebook reads and never binds (a student's own always win)."""
    features = dict.fromkeys(feature for cell in cells for feature in cell.futures)
    lines = [f"from __future__ import {', '.join(features)}"] if features else []
    for name, definition in IPYTHON_BUILTINS.items():
        if any(name in cell.reads for cell in cells) and not any(name in cell.binds for cell in cells):
            lines += definition
    return tuple(lines)


def _read_cell(number: int, cell: object) -> tuple[NotebookCell, _CellCode | None]:
    """The cell, not yet placed, and its code if it is graded: a cell that opens with a cell magic
    is graded only if that magic runs its body as Python (the magic's line is blank, or for
    %%timeit its setup statement)."""
    if not isinstance(cell, dict):
        raise _invalid_notebook(f"cell {number} is not a JSON object")
    source = _cell_text(cell, number)
    if source is None:
        return NotebookCell(number, cell, (), None), None
    lines = tuple(python_lines(source))
    read = NotebookCell(number, cell, lines, None)
    code = [python_line(line) or "" for line in lines]
    if (magic := _cell_magic(lines)) is not None:
        start, name = magic
        if name not in RUNS_ITS_BODY:
            return read, None
        code[start] = (python_line(lines[start].lstrip()[1:]) or "") if name == "timeit" else ""
    return read, _cell_code(code)


def read_notebook(text: str) -> GradedNotebook:
    """The notebook `text` as the module it is graded as: the prelude, then its code cells in
    order, each a header comment, then its lines, then a blank line before the next."""
    cells = _load_notebook(text).get("cells")
    if not isinstance(cells, list):
        raise _invalid_notebook("'cells' is not a list")
    read = [_read_cell(number, cell) for number, cell in enumerate(cells, 1)]
    prelude = _prelude([code for _, code in read if code is not None])
    placed: list[NotebookCell] = []
    module_lines = len(prelude)
    for cell, code in read:
        if code is None:
            placed.append(cell)
            continue
        header = module_lines + (2 if module_lines else 1)  # a blank line after what comes before
        placed.append(replace(cell, first_line=header + 1, code=code.lines))
        module_lines = header + len(code.lines)
    return GradedNotebook(placed, prelude)


def notebook_cells(text: str) -> list[NotebookCell]:
    """Every cell of the notebook `text`, code cells placed in the module they are graded as."""
    return read_notebook(text).cells


@dataclass(frozen=True)
class Prepared:
    """A submission as it is graded: the module's source, and for a notebook why any of its code
    cells are not in it ('' when none are left out)."""

    source: str
    left_out: str = ""


def prepare(filename: str, data: bytes) -> Prepared:
    """The submission as it is graded, or SubmissionError for an upload that can't be graded."""
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in SUPPORTED_SUFFIXES:
        raise SubmissionError(f"{filename!r}: upload a .py file or a .ipynb notebook")
    if not data.strip():
        raise SubmissionError(f"{filename!r} is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"{filename!r} is not UTF-8 text (byte {exc.start})") from None
    notebook = read_notebook(text) if suffix == ".ipynb" else None
    source = notebook.source() if notebook is not None else text
    if "\0" in source:
        raise SubmissionError(f"{filename!r} contains NUL bytes")
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as exc:  # a notebook's JSON can escape half of a surrogate pair
        raise SubmissionError(f"{filename!r} contains a lone surrogate ({ascii(exc.object[exc.start])}), "
                              "which is not text") from None
    return Prepared(source, notebook.left_out if notebook is not None else "")


def prepare_source(filename: str, data: bytes) -> str:
    """The Python source of the submission, or SubmissionError for an upload that can't be graded."""
    return prepare(filename, data).source
