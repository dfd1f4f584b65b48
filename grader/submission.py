"""Turn an uploaded file (a .py module or a Jupyter notebook) into the module source to grade.

`prepare_source` is the one place that decides whether an upload can be graded: the upload
route answers 422 with its message, the engine grades zero with it. Whatever the bytes hold, it
returns source or raises SubmissionError, never another exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SUPPORTED_SUFFIXES = (".py", ".ipynb")
NBFORMAT = 4  # the notebook format Jupyter has written since 2015, the only one with top-level cells


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


def runs_as_python(line: str) -> bool:
    """False for an IPython line magic or shell escape: the graded module has a blank line there."""
    return not line.lstrip().startswith(("%", "!"))


@dataclass(frozen=True)
class NotebookCell:
    """A notebook cell as the grader reads it. `first_line` is the line of the graded module that
    holds the cell's first line (its lines follow one per line), None for a cell that is not graded:
    what the feedback says of line N is shown at line N."""

    number: int  # from 1, in notebook order
    cell: dict[str, Any]  # its JSON, for whoever shows it; only a code cell's source is checked
    lines: tuple[str, ...]  # a code cell's source lines as written, magics included; () otherwise
    first_line: int | None


def notebook_cells(text: str) -> list[NotebookCell]:
    """Every cell of the notebook `text`, code cells placed in the module they are graded as:
    each graded cell is a header comment, then its lines, then a blank line before the next."""
    cells = _load_notebook(text).get("cells")
    if not isinstance(cells, list):
        raise _invalid_notebook("'cells' is not a list")
    read: list[NotebookCell] = []
    module_lines = 0
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict):
            raise _invalid_notebook(f"cell {number} is not a JSON object")
        source = _cell_text(cell, number)
        if source is None:
            read.append(NotebookCell(number, cell, (), None))
            continue
        lines = tuple(source.splitlines()) or ("",)
        if source.lstrip().startswith("%%"):  # a cell magic makes the whole cell non-Python
            read.append(NotebookCell(number, cell, lines, None))
            continue
        header = module_lines + (2 if module_lines else 1)  # a blank line after the previous cell
        read.append(NotebookCell(number, cell, lines, header + 1))
        module_lines = header + len(lines)
    return read


def _notebook_source(data: str) -> str:
    """The graded code cells, each at the lines `notebook_cells` placed it, without IPython magics
    or shell escapes (blank lines instead, so nothing below them moves)."""
    module: list[str] = []
    for cell in notebook_cells(data):
        if cell.first_line is None:
            continue
        module += [""] * (cell.first_line - 2 - len(module))  # the blank line between two cells
        module.append(f"# notebook cell {cell.number}")
        module += [line if runs_as_python(line) else "" for line in cell.lines]
    return "\n".join(module) + "\n"


def prepare_source(filename: str, data: bytes) -> str:
    """The Python source of the submission, or SubmissionError for an upload that can't be graded."""
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in SUPPORTED_SUFFIXES:
        raise SubmissionError(f"{filename!r}: upload a .py file or a .ipynb notebook")
    if not data.strip():
        raise SubmissionError(f"{filename!r} is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"{filename!r} is not UTF-8 text (byte {exc.start})") from None
    source = _notebook_source(text) if suffix == ".ipynb" else text
    if "\0" in source:
        raise SubmissionError(f"{filename!r} contains NUL bytes")
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as exc:  # a notebook's JSON can escape half of a surrogate pair
        raise SubmissionError(f"{filename!r} contains a lone surrogate ({ascii(exc.object[exc.start])}), "
                              "which is not text") from None
    return source
