"""Fetch and sequence: only records that follow on from the position stored in Postgres.

aiokafka rebalances in its own task, possibly while a batch is being handled, and can
hand out records fetched while a rebalance listener is still seeking
(aio-libs/aiokafka#738), from the wrong position. The listener holds ``batch_lock`` from
revocation until the new assignment is positioned; ``Sequencer.in_sequence`` drops what
does not follow on from the stored position.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition


class Sequencer:
    """The next offset to handle per partition, and the one-time re-seek on a jump."""

    def __init__(self) -> None:
        self.next: dict[TopicPartition, int] = {}
        self._reseeked: dict[TopicPartition, int] = {}

    def clear(self) -> None:
        self.next.clear()
        self._reseeked.clear()

    def positioned(self, consumer: AIOKafkaConsumer, offsets: Mapping[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            consumer.seek(tp, offset)
            self.next[tp] = offset

    def advanced(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.next.update(offsets)

    def in_sequence(
        self, consumer: AIOKafkaConsumer, batch: Mapping[TopicPartition, list[Any]]
    ) -> dict[TopicPartition, list[Any]]:
        """Only records that follow on from the stored position of a partition we own.

        Records before the stored position were handled already; a jump past it would skip
        records, so the partition is sought back once (a second identical jump is a real
        gap, e.g. transaction markers)."""
        owned = consumer.assignment()
        kept: dict[TopicPartition, list[Any]] = {}
        for tp, records in batch.items():
            expected = self.next.get(tp)
            if tp not in owned or expected is None:
                continue
            records = [r for r in records if r.offset >= expected]
            if records and records[0].offset > expected and self._reseeked.get(tp) != expected:
                self._reseeked[tp] = expected
                consumer.seek(tp, expected)
                continue
            if records:
                kept[tp] = records
        return kept


class SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    """The revocation waits for the running batch to commit, and no batch starts until the
    new assignment is positioned at the offsets stored in Postgres."""

    def __init__(
        self,
        batch_lock: asyncio.Lock,
        seek: Callable[[set[TopicPartition]], Awaitable[None]],
    ) -> None:
        self.batch_lock = batch_lock
        self.seek = seek
        self.holding = False

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if not self.holding:
            await self.batch_lock.acquire()
            self.holding = True

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        try:
            await self.seek(assigned)
        finally:
            if self.holding:
                self.holding = False
                self.batch_lock.release()
