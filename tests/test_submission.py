"""Uploads become module source: .py as is, notebooks as their code cells without IPython lines."""

from __future__ import annotations

import json

import pytest

from grader.submission import SubmissionError, prepare_source


def notebook(*cells: tuple[str, str]) -> bytes:
    notebook_cells = [{"cell_type": kind, "source": source, "metadata": {}} for kind, source in cells]
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": notebook_cells}).encode()


def test_notebook_code_cells_are_kept_and_ipython_lines_dropped():
    source = prepare_source("hw2.ipynb", notebook(
        ("markdown", "# Title"),
        ("code", "%matplotlib inline\nimport math\n!pip install torch\n"),
        ("code", "%%bash\nslow"),
        ("code", ["def f(x):\n", "    return math.sqrt(x)\n"]),
    ))
    namespace: dict = {}
    exec(compile(source, "hw2.py", "exec"), namespace)
    assert namespace["f"](9) == 3
    assert "slow" not in source and "pip" not in source and "Title" not in source


def test_a_future_import_may_open_any_code_cell_as_in_jupyter():
    """IPython compiles each cell on its own, so the handout's `from __future__ import annotations`
    may open the cell it is pasted into, below a setup cell; the module starts with it."""
    source = prepare_source("hw2.ipynb", notebook(
        ("code", "import math"),
        ("code", '"""Pasted from the handout."""\n\nfrom __future__ import annotations\n'
                 'from __future__ import (division,\n    generator_stop)\n\n'
                 "def f(x: Later) -> float:\n    return math.sqrt(x)"),
    ))
    namespace: dict = {}
    exec(compile(source, "hw2.py", "exec"), namespace)
    assert namespace["f"](9) == 3 and namespace["f"].__annotations__ == {"x": "Later", "return": "float"}
    assert source.startswith("from __future__ import annotations, division, generator_stop\n")


def test_the_magics_that_run_python_run_it_once_in_the_module():
    """`%time`/`%timeit` lines run their statement, `%%time`/`%%timeit`/`%%capture` cells their
    body (and %%timeit its setup statement), as IPython runs them in the notebook's namespace."""
    source = prepare_source("hw2.ipynb", notebook(
        ("code", "calls = []\ndef f(x):\n    calls.append(x)\n    return x + 1"),
        ("code", "%time h = f(1)\n%timeit -n 1 -r1 -q f(2)\nfor i in (3,):\n    %time --no-raise-error f(i)"),
        ("code", "%%time\ndef g():\n    return h"),
        ("code", "%%timeit -n1 -r 1 setup = f(4)\nf(setup)"),
        ("code", "\n%%capture\nk = f(6)\n%timeit f(k)"),
    ))
    namespace: dict = {}
    exec(compile(source, "hw2.py", "exec"), namespace)
    assert namespace["h"] == 2 and namespace["g"]() == 2 and namespace["calls"] == [1, 2, 3, 4, 5, 6, 7]


def test_display_and_get_ipython_are_there_when_used_and_never_over_the_students_own(capsys):
    """A plain console's display() prints each object's repr; get_ipython() is None outside IPython."""
    source = prepare_source("hw2.ipynb", notebook(("code", "display(1, 'one')\nshell = get_ipython()")))
    namespace: dict = {}
    exec(compile(source, "hw2.py", "exec"), namespace)
    assert capsys.readouterr().out == "1\n'one'\n" and namespace["shell"] is None
    own = prepare_source("hw2.ipynb", notebook(("code", "def display(x):\n    return 'mine'"),
                                               ("code", "from os import getcwd as get_ipython\nshown = display(1)")))
    assert own.count("def display") == 1 and "return None" not in own
    exec(compile(own, "hw2.py", "exec"), namespace)
    assert namespace["shown"] == "mine"
    unused = prepare_source("hw2.ipynb", notebook(("code", "x = 1  # no display here")))
    assert "get_ipython" not in unused and "def display" not in unused


def test_a_function_in_a_cell_left_out_for_its_cell_magic_is_missing_with_the_reason(grade, tmp_path):
    path = tmp_path / "hw2.ipynb"
    path.write_bytes(notebook(("markdown", "# HW2"), ("code", "%%writefile hw2_helpers.py\n"
                                                             "def initial_loss(num_classes):\n    return 0.0")))
    question = grade(path).question("1.3.4")
    assert question.score == 0
    assert ("hw2.py does not define initial_loss() (notebook cell 2 was left out: it starts with %%writefile, "
            "and of the cells that start with a cell magic only %%time, %%timeit and %%capture ones are graded)"
            ) in question.output


@pytest.mark.parametrize("odd", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"])
def test_a_notebook_line_ends_only_where_python_ends_it(odd):
    """str.splitlines() also splits at these; a comment or string holding one is still one line."""
    cell = f"# pasted from a PDF:{odd}x\ns = 'a{odd}b'  # {odd}\ndef f():\n    return s"
    source = prepare_source("hw2.ipynb", notebook(("code", cell)))
    namespace: dict = {}
    exec(compile(source, "hw2.py", "exec"), namespace)
    assert namespace["f"]() == f"a{odd}b" and source == f"# notebook cell 1\n{cell}\n"


@pytest.mark.parametrize("filename, data, message", [
    ("hw2.txt", b"x = 1", "upload a .py file or a .ipynb notebook"),
    ("hw2", b"x = 1", "upload a .py file"),
    ("hw2.py", b"  \n", "is empty"),
    ("hw2.py", b"x = '\xff'", "is not UTF-8 text"),
    ("hw2.py", b"x = 1\0", "NUL bytes"),
    ("hw2.ipynb", b"{not json", "not a valid Jupyter notebook"),
    ("hw2.ipynb", b'{"cells": 3}', "not a valid Jupyter notebook"),
    ("hw2.py", b"x = '\xed\xa0\x80'", "is not UTF-8 text"),  # a lone surrogate, encoded
])
def test_uploads_that_cannot_be_graded_are_refused_with_the_reason(filename, data, message):
    with pytest.raises(SubmissionError, match=message):
        prepare_source(filename, data)


def raw_notebook(cells: str) -> bytes:
    """An nbformat 4 notebook whose cells are the JSON text `cells`."""
    return f'{{"nbformat": 4, "nbformat_minor": 5, "metadata": {{}}, "cells": {cells}}}'.encode()


MALFORMED_NOTEBOOKS = {
    "source a list of numbers": (raw_notebook('[{"cell_type": "code", "source": [1, 2]}]'),
                                 "source of cell 1 is not text"),
    "source a number": (raw_notebook('[{"cell_type": "code", "source": 5}]'), "source of cell 1 is not text"),
    "source an object": (raw_notebook('[{"cell_type": "code", "source": {"a": 1}}]'), "source of cell 1 is not text"),
    "no source": (raw_notebook('[{"cell_type": "code"}]'), "source of cell 1 is not text"),
    "a cell that is not an object": (raw_notebook('[{"cell_type": "markdown", "source": ""}, "x = 1"]'),
                                     "cell 2 is not a JSON object"),
    "not an object": (b"[1, 2]", "not a JSON object"),
    "nested too deeply": (b'{"cells": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    "a 5,000-digit number": (raw_notebook("[]").replace(b'"metadata"', b'"n": ' + b"9" * 5000 + b', "metadata"'),
                             "a number with too many digits"),
    "a lone surrogate": (raw_notebook('[{"cell_type": "code", "source": "x = \'\\ud800\'"}]'), "lone surrogate"),
    "a NUL character": (raw_notebook('[{"cell_type": "code", "source": "x = 1\\u0000"}]'), "NUL"),
    "invalid UTF-8": (raw_notebook('[{"cell_type": "code", "source": "x = 1"}]').replace(b"x = 1", b"\xff"),
                      "not UTF-8 text"),
    "nbformat 3": (b'{"nbformat": 3, "worksheets": [{"cells": []}]}', "only nbformat 4"),
    "no nbformat": (b'{"cells": []}', "only nbformat 4"),
}


@pytest.mark.parametrize("data, message", MALFORMED_NOTEBOOKS.values(), ids=MALFORMED_NOTEBOOKS.keys())
def test_every_malformed_notebook_is_a_submission_error(data, message):
    """The upload route answers 422 for a SubmissionError; any other exception would be a 500."""
    with pytest.raises(SubmissionError, match=message):
        prepare_source("hw2.ipynb", data)


def test_an_ungradable_upload_is_graded_zero_with_the_reason(grade, tmp_path):
    path = tmp_path / "hw2.ipynb"
    path.write_text("{broken")
    report = grade(path)
    assert report.score == 0
    assert "not a valid Jupyter notebook" in report.output
    assert all("not a valid Jupyter notebook" in q.output for q in report.questions if q.grading == "auto")
