"""The console's browser: one headless chromium for the whole run, its cookies cleared for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

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
def browser(chromium: WebDriver, request: pytest.FixtureRequest) -> Browser:
    chromium.delete_all_cookies()
    return Browser(chromium, request.node.name.removeprefix("test_")[:48])
