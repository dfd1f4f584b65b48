"""CSV for spreadsheets. Every export writes through `csv_text`, so no cell opens as a formula:
a student's name is theirs to choose, and `=HYPERLINK(...)` in Excel or LibreOffice runs."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

# OWASP's CSV-injection list: a cell starting with one of these is read as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def plain_cell(value: str) -> str:
    """The cell as text: a leading single quote (which spreadsheets show as nothing) before a
    formula start, as OWASP advises."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def cell_value(cell: str) -> str:
    """The value a cell of an export holds, the quote `plain_cell` put before a formula start taken
    off again, so an export imports as what it was exported from. (A value that really starts with a
    quote and then a formula start loses its quote too: no real email or name does.)"""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def csv_text(rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows([plain_cell(cell) for cell in row] for row in rows)
    return out.getvalue()
