"""The watch on every page can see what it must fail on: a script that the CSP blocks."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.people import People

pytestmark = pytest.mark.e2e


async def test_an_inline_script_is_blocked_and_reported_as_a_csp_violation(
    people: People,
) -> None:
    person = await people.new("intake")
    page = await person.open("/login", "en")
    await page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ranInline = true'; document.body.append(s); }"
    )
    await expect(page.locator("body")).to_be_visible()
    for _ in range(50):
        if person.csp_violations:
            break
        await page.wait_for_timeout(100)
    assert person.csp_violations and "inline script" in person.csp_violations[0]
    assert await page.evaluate("() => window.ranInline === undefined")
    person.csp_violations.clear()  # seen as expected: the teardown checks for others
