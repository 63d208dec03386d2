"""The live feed's fan-out, without a database: who hears of a change, and how much waits."""

from __future__ import annotations

from shared.http.live import BACKLOG, LiveFeed


async def test_a_reader_hears_of_its_own_key_and_a_reader_of_everything_of_all() -> None:
    feed = LiveFeed("test")
    async with (
        feed.subscribe("01") as hanoi,
        feed.subscribe("79") as saigon,
        feed.subscribe() as everything,
    ):
        assert feed.readers == 3
        feed.publish("01")
        feed.publish("48")
        assert [hanoi.get_nowait()] == ["01"] and hanoi.empty()
        assert saigon.empty()
        assert [everything.get_nowait(), everything.get_nowait()] == ["01", "48"]
    assert feed.readers == 0


async def test_a_reader_far_behind_has_at_most_the_backlog_waiting() -> None:
    feed = LiveFeed("test")
    async with feed.subscribe("01") as slow:
        for _ in range(BACKLOG * 3):
            feed.publish("01")
        assert slow.qsize() == BACKLOG


async def test_an_empty_payload_reaches_a_reader_of_everything_once() -> None:
    feed = LiveFeed("test")
    async with feed.subscribe() as everything:
        feed.publish("")
        assert everything.qsize() == 1
