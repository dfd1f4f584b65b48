"""A submission's code as the staff read it: lines numbered as the feedback numbers them, and for
a notebook its cells in order (markdown, code and the outputs saved with it).

A .py file is graded as it is, so its lines are numbered as Python counts them (LF, CRLF, CR).
A notebook is graded as the module `grader.submission.notebook_cells` builds from its code cells;
each code line here carries the number it has in that module, so "line 12 of hw2.py" in the
feedback is line 12 on the page. Nothing here is trusted: the page escapes every text, renders
markdown without HTML, and shows only images whose bytes are PNG, JPEG or GIF.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from grader.db.models import Submission, User
from grader.services.permissions import require_view_all
from grader.services.rubrics import require_published
from grader.submission import NotebookCell, SubmissionError, notebook_cells, python_lines, runs_as_python

IMAGE_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
MAX_OUTPUT_CHARS = 10_000  # of one saved text output; a notebook may carry megabytes of printing


@dataclass(frozen=True)
class CodeLine:
    number: int | None  # its line in the graded module; None in a cell that is not graded
    text: str
    runs: bool = True  # False: an IPython magic or shell escape, a blank line in the graded module


@dataclass(frozen=True)
class Output:
    """One saved output of a code cell: text, or an image as a data: URI."""

    text: str = ""
    image: str = ""


@dataclass(frozen=True)
class Cell:
    kind: str  # code, markdown or raw
    number: int | None  # the notebook's cell number; None for a .py file
    lines: list[CodeLine] = field(default_factory=list)  # code
    text: str | None = ""  # markdown or raw source; None when it cannot be read
    attachments: dict[str, str] = field(default_factory=dict)  # markdown: name -> image data: URI
    outputs: list[Output] = field(default_factory=list)
    graded: bool = True


@dataclass(frozen=True)
class CodeView:
    module: str  # the file name the feedback gives the graded code, e.g. hw2.py
    notebook: bool
    cells: list[Cell]
    problem: str = ""  # why a notebook could not be read as one (its text is shown instead)


def _text(value: object) -> str | None:
    """A notebook string field: a str or a list of str (nbformat splits long text into lines)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    return None


def _image(mime: str, value: object) -> str:
    """A data: URI for base64 image data whose bytes really are that image type, else ''."""
    encoded = _text(value)
    if encoded is None or mime not in IMAGE_SIGNATURES:
        return ""
    try:
        data = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        return ""
    if not data.startswith(IMAGE_SIGNATURES[mime]):
        return ""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _shortened(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS] + "\n… (cut)"


def _output(output: object) -> Output | None:
    """Images first, then plain text; HTML, JavaScript, SVG and widgets are never shown."""
    if not isinstance(output, dict):
        return None
    kind = output.get("output_type")
    if kind == "stream":
        text = _text(output.get("text"))
        return Output(text=_shortened(text)) if text else None
    if kind == "error":
        return Output(text=_shortened(f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"))
    data = output.get("data")
    if kind not in ("display_data", "execute_result") or not isinstance(data, dict):
        return None
    for mime in IMAGE_SIGNATURES:
        if image := _image(mime, data.get(mime)):
            return Output(image=image)
    text = _text(data.get("text/plain"))
    return Output(text=_shortened(text)) if text else None


def _attachments(cell: dict[str, Any]) -> dict[str, str]:
    found = {}
    attachments = cell.get("attachments")
    for name, bundle in (attachments.items() if isinstance(attachments, dict) else ()):
        if isinstance(bundle, dict):
            image = next((uri for mime in IMAGE_SIGNATURES if (uri := _image(mime, bundle.get(mime)))), "")
            if image:
                found[str(name)] = image
    return found


def _cell(cell: NotebookCell) -> Cell:
    raw = cell.cell
    kind = raw.get("cell_type")
    if kind == "code":
        numbered = cell.first_line is not None
        lines = [
            CodeLine(cell.first_line + i if cell.first_line is not None else None, text,
                     numbered and runs_as_python(text))
            for i, text in enumerate(cell.lines)
        ]
        outputs = raw.get("outputs")
        shown = [o for o in map(_output, outputs if isinstance(outputs, list) else []) if o is not None]
        return Cell("code", cell.number, lines, outputs=shown, graded=numbered)
    return Cell("markdown" if kind == "markdown" else "raw", cell.number, text=_text(raw.get("source")),
                attachments=_attachments(raw) if kind == "markdown" else {}, graded=False)


def _python_lines(text: str) -> list[CodeLine]:
    return [CodeLine(number, line) for number, line in enumerate(python_lines(text), 1)]


def code_view(db: Session, viewer: User, submission: Submission) -> CodeView:
    """The submission's code, for the course staff who see everyone's work."""
    require_view_all(db, viewer, submission.assignment.course)
    text = submission.content.decode("utf-8", errors="replace")
    filename = f"{require_published(db, submission.assignment).module}.py"
    if not submission.filename.lower().endswith(".ipynb"):
        return CodeView(filename, False, [Cell("code", None, _python_lines(text))])
    try:
        cells = notebook_cells(text)
    except SubmissionError as exc:  # stored before the checks were what they are now
        return CodeView(filename, True, [Cell("raw", None, text=text, graded=False)], str(exc))
    return CodeView(filename, True, [_cell(cell) for cell in cells])
