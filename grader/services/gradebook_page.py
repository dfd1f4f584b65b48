"""The scores page's share of a gradebook: statistics over every student, and one page of rows
(optionally only the students whose name or email holds a search text)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from grader.db.models import Assignment, User
from grader.services.gradebook import Gradebook, GradebookRow, QuestionStats, gradebook, question_stats, total_stats
from grader.services.paging import Page, page_of

ROWS_PER_PAGE = 50


@dataclass(frozen=True)
class GradebookPage:
    book: Gradebook
    stats: list[QuestionStats]
    totals: QuestionStats
    rows: Page[GradebookRow]
    search: str


def _matches(row: GradebookRow, search: str) -> bool:
    return search in row.student.name.casefold() or search in row.student.email.casefold()


def gradebook_page(db: Session, viewer: User, assignment: Assignment, number: int = 1, search: str = "",
                   size: int = ROWS_PER_PAGE) -> GradebookPage:
    book = gradebook(db, viewer, assignment)
    search = search.strip()
    rows = [row for row in book.rows if _matches(row, search.casefold())] if search else book.rows
    return GradebookPage(book, question_stats(book), total_stats(book), page_of(rows, number, size), search)
