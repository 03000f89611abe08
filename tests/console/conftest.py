"""The console's browser: one headless chromium for the whole run, its cookies cleared for each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.support import axe
from tests.support.browser import SCREENSHOTS, Browser, start_chromium


@pytest.fixture(scope="session")
def chromium(pytestconfig: pytest.Config) -> Iterator[WebDriver]:
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()
        terminal = pytestconfig.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None and SCREENSHOTS.exists():
            terminal.write_line(f"console screenshots: {SCREENSHOTS}")


@pytest.fixture
def browser(
    chromium: WebDriver, request: pytest.FixtureRequest, report: Callable[[str], None]
) -> Iterator[Browser]:
    """The run's chromium for one story; after it, every page it kept must pass axe-core (WCAG 2.1 AA)."""
    chromium.delete_all_cookies()
    story = Browser(chromium, request.node.name.removeprefix("test_")[:48])
    yield story
    failing = {page: found for page, found in story.audits.items() if found}
    report(
        f"axe-core {axe.VERSION}: {len(story.audits)} pages of {story.story}, "
        f"{sum(len(v) for v in story.audits.values())} violations"
    )
    assert failing == {}, f"axe-core found WCAG 2.1 A/AA violations: {failing}"
