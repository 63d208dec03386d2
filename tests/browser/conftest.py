"""The pages in a real browser: Debian's chromium driven by Playwright, on a real stack.

One stack (the three services as processes on the session's Kafka and PostgreSQL) serves the
whole package; each test signs in its own people, each in a browser context of its own (the
services share 127.0.0.1, and cookies do not tell ports apart). Every page a test opens is
watched: a Content Security Policy violation or an uncaught script error fails the test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect

from shared.infra.kafka_broker import KafkaBroker
from shared.infra.postgres import EmbeddedPostgres
from tests.browser.people import People
from tests.e2e.stack import Stack
from tests.tools import require

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = "AIDPORT_SCREENSHOTS"  # a folder: `make screenshots` sets docs/screenshots
# A shared machine under load renders slowly: wait for the page longer than Playwright's 5 s
# (a wait, not a timing assertion: a fast page passes at once).
expect.set_options(timeout=20_000)


@pytest.fixture(scope="package")
def chromium() -> str:
    return require("chromium", "chromium")


@pytest.fixture(scope="package")
def web_stack(
    postgres: EmbeddedPostgres,
    kafka: KafkaBroker,
    tmp_path_factory: pytest.TempPathFactory,
    chromium: str,
) -> Iterator[Stack]:
    running = Stack(postgres, kafka, tmp_path_factory.mktemp("browser-logs"))
    running.start()
    yield running
    running.stop()


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium)
        yield launched
        await launched.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where the pages' screenshots go: docs/screenshots under `make screenshots`, else a
    temporary folder (the code that takes them runs either way)."""
    chosen = os.environ.get(SCREENSHOTS)
    folder = (ROOT / chosen) if chosen else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def people(browser: Browser, web_stack: Stack, screenshots: Path) -> AsyncIterator[People]:
    crowd = People(browser, web_stack, screenshots)
    yield crowd
    await crowd.close()
    crowd.assert_no_page_errors()
