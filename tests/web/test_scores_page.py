"""The scores page of a 600-student class in a real Chromium at 1280x800: the Total column in view
without scrolling sideways, a page of students at a time (and a search), histograms with labelled
axes and their counts as text, means with at most two decimals, and a histogram of the totals.

The class is written straight into the database (harness.classes): what grading would have left.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from grader.db.models import Assignment
from grader.db.session import session_scope
from grader.services.gradebook_page import ROWS_PER_PAGE
from grader.services.rubrics import published
from harness.classes import SeededClass, seed_graded_class
from tests.fixtures.services import Stack
from tests.web.browser import log_in, shoot
from tests.web.support import Klass, LiveServer

SEEDED = 600
ROSTER = SEEDED + 2  # and the class's own two students, who have not submitted
QUESTIONS = 20


@pytest.fixture
def viewport() -> dict[str, Any]:
    return {"width": 1280, "height": 800}


@pytest.fixture
def big_class(shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]) -> tuple[Klass, SeededClass]:
    klass = make_klass(shared_sqlite_stack)
    with session_scope() as db:
        assignment = db.get(Assignment, klass.assignment_id)
        assert assignment is not None
        seeded = seed_graded_class(db, assignment, published(db, assignment), SEEDED,
                                    tag=klass.instructor.email.split("@")[0])
        db.commit()
    return klass, seeded


def test_the_total_is_in_view_at_1280_pixels_without_scrolling_sideways(
    page: Page, sqlite_server: LiveServer, big_class: tuple[Klass, SeededClass]
) -> None:
    klass, _ = big_class
    log_in(page, sqlite_server, klass.instructor)
    page.goto(f"{sqlite_server.url}/assignments/{klass.assignment_id}/scores")
    table = page.locator("table.gradebook")
    page.evaluate("top => window.scrollTo(0, top - 40)", table.bounding_box()["y"])  # type: ignore[index]

    expect(table.locator("thead th").nth(1)).to_have_text(re.compile(r"Total / \d+"))
    for cell in (table.locator("thead th.total"), table.locator("tbody tr").first.locator("td.total")):
        expect(cell).to_be_in_viewport(ratio=1)
        box = cell.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1280
    assert page.evaluate("() => [window.scrollX, document.querySelector('.scroll').scrollLeft]") == [0, 0]
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    shoot(page, "scores-1280")


def test_students_come_a_page_at_a_time_and_a_search_finds_one(
    page: Page, sqlite_server: LiveServer, big_class: tuple[Klass, SeededClass]
) -> None:
    klass, _ = big_class
    log_in(page, sqlite_server, klass.instructor)
    page.goto(f"{sqlite_server.url}/assignments/{klass.assignment_id}/scores")
    rows = page.locator("table.gradebook tbody tr")
    expect(rows).to_have_count(ROWS_PER_PAGE)
    expect(page.locator("#rows-shown")).to_have_text(f"Students 1–{ROWS_PER_PAGE} of {ROSTER}")
    pages = -(-ROSTER // ROWS_PER_PAGE)
    pager = page.get_by_role("navigation", name="Pages of students")
    pager.get_by_role("link", name=str(pages), exact=True).click()
    expect(rows).to_have_count(ROSTER - (pages - 1) * ROWS_PER_PAGE)
    expect(pager.locator("[aria-current=page]")).to_have_text(str(pages))

    page.get_by_label("Find a student").fill("Seeded Student 0042")
    page.get_by_role("button", name="Find").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Seeded Student 0042")
    expect(page.locator("#rows-shown")).to_contain_text("Students 1–1 of 1 found")


def test_histograms_have_axes_counts_in_words_and_short_means(
    page: Page, sqlite_server: LiveServer, big_class: tuple[Klass, SeededClass]
) -> None:
    klass, seeded = big_class
    log_in(page, sqlite_server, klass.instructor)
    page.goto(f"{sqlite_server.url}/assignments/{klass.assignment_id}/scores")

    totals = page.locator("#hist-total")
    expect(totals.locator("svg rect")).to_have_count(10)
    expect(page.locator(".stat svg rect")).to_have_count(QUESTIONS * 10)
    ticks = totals.locator("svg text").all_text_contents()
    assert {"0", f"{seeded.max_total:g}", f"{seeded.max_total / 2:g}", "points", "students"} <= set(ticks)

    # The text alternative: the SVG is named by its title, and its counts are a table.
    svg = totals.locator("svg")
    expect(svg).to_have_attribute("role", "img")
    title = page.locator(f"#{svg.get_attribute('aria-labelledby')}")
    expect(title).to_contain_text(f"Total points: {len(seeded.submission_ids)} students by points")
    totals.get_by_text("Counts", exact=True).click()
    counts = totals.locator("table tbody tr")
    expect(counts).to_have_count(10)
    expect(counts.first.locator("td").first).to_have_text(f"0 to under {seeded.max_total / 10:g}")
    expect(counts.last.locator("td").first).to_have_text(f"{seeded.max_total * 9 / 10:g} to {seeded.max_total:g}")
    assert sum(int(n) for n in counts.locator("td.num").all_inner_texts()) == len(seeded.submission_ids)
    expect(totals.locator("svg rect title").first).to_have_text(re.compile(r"^\d+ students?: 0 to under "))

    means = page.locator(".stat .muted").all_inner_texts()
    assert len(means) == QUESTIONS
    assert all(re.fullmatch(r"mean \d+(\.\d{1,2})? / \d+", mean) for mean in means), means
    shoot(page, "scores-histograms")
