"""A real browser for the console's scenarios: Debian's Chromium launched once per module
through Playwright (tests/browser/chromium.py), a fresh context per test, and a screenshot
of what the page showed at the end of every test, kept under test-artifacts/browser/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from .chromium import CHROMIUM, FLAGS, artifact, missing


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    problem = missing()
    if problem:
        pytest.fail(problem, pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    # UTC and a fixed locale: the pages print times in UTC, and the test reads them as a person would.
    context = browser.new_context(timezone_id="UTC", locale="en-GB", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        try:
            opened.screenshot(path=artifact(request.node.name), full_page=True)
        finally:
            context.close()
