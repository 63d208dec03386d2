"""The relay's partitioner remembers each key's hash and must still agree with aiokafka's
default (the Java client's murmur2): a consignment's events all go to one partition."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from shared.relay import KeyPartitioner

PARTITIONS = st.integers(min_value=1, max_value=64).map(lambda n: list(range(n)))


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=30), PARTITIONS)
def test_each_key_gets_the_default_partitioners_partition(
    keys: list[bytes], all_: list[int]
) -> None:
    partitioner = KeyPartitioner(remembered=8)  # small: forgetting must not change anything
    for key in keys + keys:
        assert partitioner(key, all_, all_) == DefaultPartitioner()(key, all_, all_)


def test_a_message_without_a_key_goes_to_an_available_partition() -> None:
    assert KeyPartitioner()(None, [0, 1, 2], [2]) == 2
