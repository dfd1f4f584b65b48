"""Turn an uploaded file (a .py module or a Jupyter notebook) into the module source to grade."""

from __future__ import annotations

import json

SUPPORTED_SUFFIXES = (".py", ".ipynb")


class SubmissionError(ValueError):
    """The upload cannot be graded at all; the message tells the student why."""


def _notebook_source(data: str) -> str:
    """The code cells, in order, without IPython magics or shell escapes."""
    try:
        notebook = json.loads(data)
        cells = notebook["cells"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SubmissionError(f"not a valid Jupyter notebook: {exc}") from exc
    if not isinstance(cells, list):
        raise SubmissionError("not a valid Jupyter notebook: 'cells' is not a list")
    chunks: list[str] = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        if text.lstrip().startswith("%%"):
            continue  # a cell magic makes the whole cell non-Python
        lines = [
            "" if line.lstrip().startswith(("%", "!")) else line
            for line in text.splitlines()
        ]
        chunks.append(f"# notebook cell {index + 1}\n" + "\n".join(lines))
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
        raise SubmissionError(f"{filename!r} is not UTF-8 text (byte {exc.start})") from exc
    if "\0" in text:
        raise SubmissionError(f"{filename!r} contains NUL bytes")
    return _notebook_source(text) if suffix == ".ipynb" else text
