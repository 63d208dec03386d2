"""People at the browser: one Playwright context and page per person, watched for errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Error, Page

from tests.e2e.stack import Stack

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
VIEWPORT = {"width": 1280, "height": 860}


@dataclass
class Person:
    """Someone signed in (or about to) to one service, in a browser context of their own."""

    service: str
    base_url: str
    context: BrowserContext
    page: Page
    csp_violations: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    async def open(self, path: str, lang: str | None = None) -> Page:
        target = self.url(path)
        if lang:
            target += ("&" if "?" in path else "?") + f"lang={lang}"
        response = await self.page.goto(target)
        assert response is not None and response.status < 400, f"{target}: {response}"
        return self.page


class People:
    """Everyone a test signs in; closes their contexts and reports what their pages broke."""

    def __init__(self, browser: Browser, stack: Stack, screenshots: Path) -> None:
        self.browser = browser
        self.stack = stack
        self.screenshots = screenshots
        self.everyone: list[Person] = []

    async def new(self, service: str, *, axe: bool = False, locale: str = "en-GB") -> Person:
        """A fresh browser context for ``service``; ``axe`` injects the vendored axe-core into
        every document (as an init script: the pages' CSP is left as it is)."""
        context = await self.browser.new_context(
            base_url=self.stack.url(service), viewport=VIEWPORT, locale=locale
        )
        if axe:
            await context.add_init_script(path=AXE)
        context.set_default_timeout(60_000)
        page = await context.new_page()
        person = Person(service, self.stack.url(service), context, page)
        page.on("console", lambda message: _on_console(person, message))
        page.on("pageerror", lambda error: _on_page_error(person, error))
        self.everyone.append(person)
        return person

    async def shoot(self, person: Person, name: str) -> Path:
        """A full-page screenshot of what ``person`` sees, as <name>.png."""
        path = self.screenshots / f"{name}.png"
        await person.page.screenshot(path=path, full_page=True, animations="disabled")
        assert path.stat().st_size > 0
        return path

    async def close(self) -> None:
        for person in self.everyone:
            await person.context.close()

    def assert_no_page_errors(self) -> None:
        for person in self.everyone:
            assert person.csp_violations == [], f"{person.service}: {person.csp_violations}"
            assert person.script_errors == [], f"{person.service}: {person.script_errors}"


def _on_console(person: Person, message: ConsoleMessage) -> None:
    # Chromium reports a blocked inline script or style as a console error naming the CSP.
    if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
        person.csp_violations.append(message.text)


def _on_page_error(person: Person, error: Error) -> None:
    person.script_errors.append(f"{error.name}: {error.message}")
