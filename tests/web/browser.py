"""Acting in the real browser (Debian's chromium-headless-shell, driven by Playwright): logging in through the
form, and screenshots of each main page to /tmp/grader-*.png. The browser and page fixtures are in
conftest.py."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.web.support import PASSWORD, LiveServer, Person

# Chromium's own headless build: the same Blink as the full browser at about half its CPU.
CHROMIUM = Path("/usr/bin/chromium-headless-shell")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path("/tmp")


def log_in(page: Page, server: LiveServer, person: Person) -> None:
    page.goto(f"{server.url}/")
    expect(page).to_have_url(f"{server.url}/login?next=/")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Assignments")).to_be_visible()


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=SCREENSHOTS / f"grader-{name}.png", full_page=True)
