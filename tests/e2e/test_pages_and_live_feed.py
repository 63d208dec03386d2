"""The pages over HTTP with a signed-in cookie, and the province's live feed."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from shared.auth import DEMO_PASSWORD
from tests.e2e.flows import announce_and_arrive, fast_track, inbox
from tests.e2e.stack import Stack, until

pytestmark = pytest.mark.e2e


async def sign_in(client: httpx.AsyncClient, url: str, user: str, service: str) -> None:
    form = await client.get(f"{url}/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None
    data = {"username": user, "password": DEMO_PASSWORD, "csrf_token": csrf.group(1)}
    response = await client.post(f"{url}/login", data=data)
    assert response.status_code == 303 and f"aidport_{service}_token" in client.cookies


async def test_pages_in_both_languages_and_the_live_inbox(stack: Stack) -> None:
    stack.start()
    allocation = stack.url("allocation")
    async with httpx.AsyncClient(timeout=30) as client, httpx.AsyncClient(timeout=30) as browser:
        assert (await browser.get(f"{allocation}/")).status_code == 303  # to the login page
        await sign_in(browser, allocation, "province-01", "allocation")

        english = await browser.get(f"{allocation}/provinces/01", params={"lang": "en"})
        assert english.status_code == 200 and "Allocation notices" in english.text
        vietnamese = await browser.get(f"{allocation}/provinces/01", params={"lang": "vi"})
        assert "Thông báo phân bổ" in vietnamese.text and '<html lang="vi">' in vietnamese.text
        assert (await browser.get(f"{allocation}/provinces/79")).status_code == 403

        events: list[str] = []
        token = await stack.token(client, "province-01", "allocation")

        async def listen() -> None:
            async with client.stream(
                "GET",
                f"{allocation}/api/v1/provinces/01/notices/stream",
                headers={"Authorization": f"Bearer {token}"},
            ) as stream:
                async for line in stream.aiter_lines():
                    events.append(line)

        listener = asyncio.create_task(listen())
        await until(lambda: _has(events, "retry:"))
        shipment = await announce_and_arrive(stack, client, "738-30000001")
        assert (await fast_track(stack, client, shipment["shipment_id"])).status_code == 200
        await until(lambda: _has(events, "event: notice"), timeout=30)
        listener.cancel()

        notice = (await inbox(stack, client, "01")).json()["items"][0]
        ack = f"{allocation}/api/v1/provinces/01/notices/{notice['notice_number']}/acknowledge"
        assert (await browser.post(ack)).status_code == 403  # a cookie alone is not enough
        csrf = browser.cookies["aidport_csrf"]
        done = await browser.post(ack, headers={"X-CSRF-Token": csrf})
        assert done.status_code == 200 and done.json()["status"] == "acknowledged"
        page = await browser.get(f"{allocation}/provinces/01/fragment", params={"lang": "vi"})
        assert "đã xác nhận" in page.text

        for service, user, text in [
            ("intake", "intake.han", "Các lô hàng"),
            ("customs", "customs.han", "Hàng chờ thông quan"),
        ]:
            await sign_in(browser, stack.url(service), user, service)
            page = await browser.get(f"{stack.url(service)}/", params={"lang": "vi"})
            assert page.status_code == 200 and text in page.text


async def _has(lines: list[str], prefix: str) -> bool:
    return any(line.startswith(prefix) for line in lines)
