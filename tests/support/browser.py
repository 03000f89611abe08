"""A real browser for the console's tests: Debian's ``chromium``, headless, driven through ``chromium-driver`` by
Selenium. The services under test run in the test's event loop, so every browser call runs in a thread (a
blocking call would stop the very server the browser is talking to). Waits are bounded polls on what the page
says, never sleeps; every page the test looks at can be kept as a screenshot."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support import axe

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "console"
T = TypeVar("T")


def start_chromium() -> WebDriver:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        raise RuntimeError(
            "the browser tests need Debian's chromium and chromium-driver (./dev test installs them "
            "when run as root: apt-get install chromium chromium-driver)"
        )
    options = Options()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1800",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


class Browser:
    def __init__(self, driver: WebDriver, story: str) -> None:
        self.driver, self.story = driver, story
        self.shots: list[Path] = []
        self.audits: dict[str, list[dict[str, Any]]] = {}
        """Each screenshot's page: axe-core's violations on it (none, for a page an officer may use)."""

    async def _run(self, call: Callable[[], T]) -> T:
        return await asyncio.to_thread(call)

    async def open(self, url: str) -> None:
        await self._run(lambda: self.driver.get(url))

    @property
    def url(self) -> str:
        return str(self.driver.current_url)

    async def text(self) -> str:
        """The page's text; read again if the page was replaced meanwhile (a pending command's page refreshes)."""
        for _ in range(20):
            try:
                return await self._run(
                    lambda: str(self.driver.find_element(By.TAG_NAME, "body").text)
                )
            except (
                WebDriverException
            ):  # stale, not there yet, or the document replaced under the reader
                await asyncio.sleep(0.1)
        raise TimeoutError(f"the page at {self.url} kept changing under the reader")

    async def title(self) -> str:
        return await self._run(lambda: str(self.driver.title))

    async def until(
        self,
        wanted: str | re.Pattern[str],
        *,
        timeout: float = 60.0,
        reload: bool = True,
        what: str | None = None,
    ) -> str:
        """Reload (or just re-read) the page until its text has ``wanted``; the text, or TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            text = await self.text()
            if wanted.search(text) if isinstance(wanted, re.Pattern) else wanted in text:
                return text
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{what or wanted!r} not shown within {timeout:.0f}s at {self.url}:\n{text[:2000]}"
                )
            await asyncio.sleep(0.3)
            if reload:
                await self._run(self.driver.refresh)

    async def until_link(self, text: str, *, timeout: float = 60.0) -> None:
        """Reload the page until it has a link whose text has ``text`` (a queue's row, not a filter's option)."""
        deadline = time.monotonic() + timeout
        while not await self._has_link(text):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no link {text!r} within {timeout:.0f}s at {self.url}:\n{(await self.text())[:2000]}"
                )
            await asyncio.sleep(0.3)
            await self._run(self.driver.refresh)

    async def press(self, text: str) -> None:
        """Press the page's button whose text has ``text`` (the sign-in page's, for one), and wait until the page
        it posts to has replaced this one."""

        def run() -> None:
            button = self.driver.find_element(
                By.XPATH, f"//button[contains(normalize-space(.), {text!r})]"
            )
            button.click()

            def replaced(_driver: Any) -> bool:
                # while the next page loads, chromedriver may answer for the old button with another error than
                # "stale" ("Node ... does not belong to the document"): either way, it is gone
                try:
                    button.is_enabled()
                except WebDriverException:
                    return True
                return False

            WebDriverWait(self.driver, 60).until(replaced)

        await self._run(run)

    async def _has_link(self, text: str) -> bool:
        try:
            return await self._run(
                lambda: bool(self.driver.find_elements(By.PARTIAL_LINK_TEXT, text))
            )
        except WebDriverException:  # the page being replaced (a refresh under way)
            return False

    async def click_link(self, text: str) -> None:
        await self._run(lambda: self.driver.find_element(By.PARTIAL_LINK_TEXT, text).click())

    async def expand(self, action: str) -> None:
        """Open an action's disclosure (``details``) with the keyboard, as an officer without a mouse would."""

        def run() -> None:
            details = self.driver.find_element(By.ID, f"action-{action}")
            if details.get_attribute("open") is None:
                details.find_element(By.TAG_NAME, "summary").send_keys(" ")

        await self._run(run)

    def _field(self, action: str, name: str) -> Any:
        return self.driver.find_element(By.ID, f"action-{action}").find_element(By.NAME, name)

    async def type(self, action: str, name: str, value: str) -> None:
        await self._run(lambda: self._field(action, name).send_keys(value))

    async def type_into(self, ident: str, value: str) -> None:
        """Type into the page's control ``ident`` (a filter's, a search's: one of no action's form)."""
        await self._run(lambda: self.driver.find_element(By.ID, ident).send_keys(value))

    async def tick(self, action: str, *names: str) -> None:
        def run() -> None:
            for name in names:
                box = self._field(action, name)
                if not box.is_selected():
                    box.send_keys(" ")

        await self._run(run)

    async def choose(self, action: str, name: str, value: str) -> None:
        await self._run(lambda: Select(self._field(action, name)).select_by_value(value))

    async def submit(self, action: str) -> None:
        """Send the action's form, unfolding it first as an officer would (its summary) where it is folded."""

        def run() -> None:
            details = self.driver.find_element(By.ID, f"action-{action}")
            if details.get_attribute("open") is None:
                details.find_element(By.TAG_NAME, "summary").click()
            details.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        await self._run(run)

    async def has_action(self, action: str) -> bool:
        return await self._run(lambda: bool(self.driver.find_elements(By.ID, f"action-{action}")))

    async def labelled(self) -> list[str]:
        """Every visible form control without a label (by ``for``) or an enclosing fieldset legend: none, please."""
        script = (
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
            ".filter(c => !(c.id && document.querySelector('label[for=\"' + c.id + '\"]')))"
            ".map(c => c.name);"
        )
        return list(await self._run(lambda: self.driver.execute_script(script)))

    async def forge(self, action_path: str, fields: dict[str, str]) -> None:
        """Post a form the page never offered, with the session's own form token (as a crafted page or a tampered
        browser could): the console must refuse it by the officer's roles, not by what the page showed."""
        script = (
            "const f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];"
            "const token = document.querySelector('input[name=form_token]').value;"
            "const add = (n, v) => { const i = document.createElement('input'); i.type = 'hidden'; i.name = n;"
            " i.value = v; f.appendChild(i); };"
            "add('form_token', token); for (const [n, v] of Object.entries(arguments[1])) add(n, v);"
            "document.body.appendChild(f); f.submit();"
        )
        await self._run(lambda: self.driver.execute_script(script, action_path, fields))
        await self._run(lambda: self.driver.find_element(By.TAG_NAME, "h1"))

    async def shot(self, name: str) -> Path:
        """Keep the page as a screenshot, and what axe-core finds on it (WCAG 2.1 A and AA)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.story}-{len(self.shots) + 1:02d}-{name}.png"
        await self._run(lambda: self.driver.save_screenshot(str(path)))
        self.shots.append(path)
        self.audits[name] = await self._run(lambda: axe.violations(self.driver))
        return path
