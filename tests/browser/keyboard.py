"""Driving a page with the keyboard alone: Tab to move, keys to type, Enter to send.

No click, no fill: what the helpers reach is what a keyboard user reaches, in the page's own
tab order.
"""

from __future__ import annotations

from datetime import date, datetime

from playwright.async_api import Page

MAX_TABS = 120  # the inspection form with its arrival report is long


async def tab_to(page: Page, selector: str) -> None:
    """Presses Tab until the first element matching ``selector`` (any Playwright selector)
    has the focus; fails after MAX_TABS."""
    target = page.locator(selector).first
    for _ in range(MAX_TABS):
        if await target.evaluate("(element) => element === document.activeElement"):
            return
        await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement?.outerHTML.slice(0, 120)")
    raise AssertionError(f"Tab never reached {selector}; stuck on {focused}")


async def type_into(page: Page, selector: str, text: str) -> None:
    await tab_to(page, selector)
    await page.keyboard.press("ControlOrMeta+a")
    await page.keyboard.type(text)


async def press_on(page: Page, selector: str, key: str = "Enter") -> None:
    await tab_to(page, selector)
    await page.keyboard.press(key)


async def type_keys(page: Page, keys: str) -> None:
    for key in keys:
        await page.keyboard.press(key)


async def type_date(page: Page, selector: str, day: date) -> None:
    """A date input, segment by segment as Chromium shows it here (mm/dd/yyyy)."""
    await tab_to(page, selector)
    await type_keys(page, day.strftime("%m%d%Y"))


async def type_datetime(page: Page, selector: str, moment: datetime) -> None:
    """A datetime-local input: the date segments, Tab to the time, hour, minute, AM or PM."""
    await type_date(page, selector, moment.date())
    await page.keyboard.press("Tab")
    await type_keys(page, moment.strftime("%I%M"))
    await page.keyboard.press("A" if moment.hour < 12 else "P")
