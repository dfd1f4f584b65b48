"""A notebook's code cells land at the module lines `notebook_cells` says, the ones Python reports
in a traceback: line N in a submission's feedback is line N of the notebook as the page shows it."""

from __future__ import annotations

import json
import traceback

import pytest

from grader.submission import notebook_cells, prepare_source


def notebook(*cells: tuple[str, str | list[str]]) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": [{"cell_type": kind, "source": source, "metadata": {}} for kind, source in cells]})


CELLS: list[tuple[str, str | list[str]]] = [
    ("markdown", "# Title\n\nsome *text*"),
    ("code", "%matplotlib inline\nimport math\n!pip list\ndisplay(math.pi)\n"),  # display(): lines come first
    ("code", ""),  # an empty cell still takes a line
    ("code", "%%bash\nslow()"),  # a cell magic that does not run Python: not graded
    ("raw", "raw text"),
    ("code", ["def f(x):\r\n", "    y = x + 1\n", "    return math.sqrt(y)\n"]),  # lines as a list, CRLF
    ("code", "from __future__ import annotations\ndef g() -> Later:\n\n    raise ValueError('at a known line')"),
    ("code", "%%time\ndef k():\n    %time raise ValueError('in a %%time cell')"),
    # What str.splitlines() splits on and Python does not (pasted from a PDF, say): one line each.
    ("code", "def m():\n    # x\u2028y\u2029z\x0b\x0c\x1c\x1d\x1e\x85 = '\u2028'\n    raise ValueError('\u2028\x0c')"),
]
# The lines of the graded module where a cell's own line is not Python (the rest are as written).
NOT_AS_WRITTEN = {
    (2, "%matplotlib inline"): "", (2, "!pip list"): "",
    (7, "from __future__ import annotations"): "",  # moved to line 1
    (8, "%%time"): "",
    (8, "    %time raise ValueError('in a %%time cell')"): "    raise ValueError('in a %%time cell')",
}


def test_each_graded_line_is_where_the_cells_say_and_nothing_else_is_graded() -> None:
    text = notebook(*CELLS)
    module = prepare_source("hw2.ipynb", text.encode()).split("\n")
    cells = notebook_cells(text)
    assert [c.first_line is not None for c in cells] == [False, True, True, False, False, True, True, True, True]
    for cell in cells:
        if cell.first_line is None:
            continue
        assert module[cell.first_line - 2] == f"# notebook cell {cell.number}"
        for offset, line in enumerate(cell.lines):
            shown = module[cell.first_line - 1 + offset]
            assert shown == NOT_AS_WRITTEN.get((cell.number, line), line)
    assert "slow()" not in "\n".join(module)
    assert module[0] == "from __future__ import annotations"  # where Python wants it, moving no cell


@pytest.mark.parametrize("call, cell_number, line_in_cell",
                         [("g()", 7, 3), ("f(-2)", 6, 2), ("k()", 8, 2), ("m()", 9, 2)])
def test_the_line_python_reports_is_the_line_the_cell_is_placed_at(call: str, cell_number: int,
                                                                    line_in_cell: int) -> None:
    text = notebook(*CELLS)
    namespace: dict[str, object] = {}
    exec(compile(prepare_source("hw2.ipynb", text.encode()), "hw2.py", "exec"), namespace)
    with pytest.raises(ValueError) as raised:
        eval(call, namespace)
    reported = [frame.lineno for frame in traceback.extract_tb(raised.value.__traceback__)
                if frame.filename == "hw2.py"][-1]
    cell = notebook_cells(text)[cell_number - 1]
    assert cell.first_line is not None and reported == cell.first_line + line_in_cell
