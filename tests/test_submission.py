"""Uploads become module source: .py as is, notebooks as their code cells without IPython lines."""

from __future__ import annotations

import json

import pytest

from grader.submission import SubmissionError, prepare_source


def notebook(*cells: tuple[str, str]) -> bytes:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": [{"cell_type": kind, "source": source, "metadata": {}} for kind, source in cells]}).encode()


def test_notebook_code_cells_are_kept_and_ipython_lines_dropped():
    source = prepare_source("hw2.ipynb", notebook(
        ("markdown", "# Title"),
        ("code", "%matplotlib inline\nimport math\n!pip install torch\n"),
        ("code", "%%timeit\nslow()"),
        ("code", ["def f(x):\n", "    return math.sqrt(x)\n"]),
    ))
    namespace: dict = {}
    exec(compile(source, "hw2.py", "exec"), namespace)
    assert namespace["f"](9) == 3
    assert "slow()" not in source and "pip" not in source and "Title" not in source


@pytest.mark.parametrize("filename, data, message", [
    ("hw2.txt", b"x = 1", "upload a .py file or a .ipynb notebook"),
    ("hw2", b"x = 1", "upload a .py file"),
    ("hw2.py", b"  \n", "is empty"),
    ("hw2.py", b"x = '\xff'", "is not UTF-8 text"),
    ("hw2.py", b"x = 1\0", "NUL bytes"),
    ("hw2.ipynb", b"{not json", "not a valid Jupyter notebook"),
    ("hw2.ipynb", b'{"cells": 3}', "not a valid Jupyter notebook"),
])
def test_uploads_that_cannot_be_graded_are_refused_with_the_reason(filename, data, message):
    with pytest.raises(SubmissionError, match=message):
        prepare_source(filename, data)


def test_an_ungradable_upload_is_graded_zero_with_the_reason(grade, tmp_path):
    path = tmp_path / "hw2.ipynb"
    path.write_text("{broken")
    report = grade(path)
    assert report.score == 0
    assert "not a valid Jupyter notebook" in report.output
    assert all("not a valid Jupyter notebook" in q.output for q in report.questions if q.grading == "auto")
