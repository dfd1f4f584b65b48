"""Turn an uploaded file (a .py module or a Jupyter notebook) into the module source to grade.

`prepare_source` is the one place that decides whether an upload can be graded: the upload
route answers 422 with its message, the engine grades zero with it. Whatever the bytes hold, it
returns source or raises SubmissionError, never another exception.
"""

from __future__ import annotations

import json
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


def _cell_text(cell: object, number: int) -> str | None:
    """A code cell's source; None for any other cell, whose content is never read."""
    if not isinstance(cell, dict):
        raise _invalid_notebook(f"cell {number} is not a JSON object")
    if cell.get("cell_type") != "code":
        return None
    source = cell.get("source")
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    raise _invalid_notebook(f"the source of cell {number} is not text or a list of lines")


def _notebook_source(data: str) -> str:
    """The code cells, in order, without IPython magics or shell escapes."""
    cells = _load_notebook(data).get("cells")
    if not isinstance(cells, list):
        raise _invalid_notebook("'cells' is not a list")
    chunks: list[str] = []
    for number, cell in enumerate(cells, 1):
        text = _cell_text(cell, number)
        if text is None or text.lstrip().startswith("%%"):
            continue  # not code, or a cell magic, which makes the whole cell non-Python
        lines = [
            "" if line.lstrip().startswith(("%", "!")) else line
            for line in text.splitlines()
        ]
        chunks.append(f"# notebook cell {number}\n" + "\n".join(lines))
    return "\n\n".join(chunks) + "\n"


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
