"""The consumer runner and its parts: fetch and sequence, apply, park, dead-letter, offsets."""

from shared.consumer.apply import TRANSIENT_ERRORS, BatchHandler, Handler, Reaction
from shared.consumer.runner import ConsumerRunner, reaction_metadata

__all__ = [
    "TRANSIENT_ERRORS",
    "BatchHandler",
    "ConsumerRunner",
    "Handler",
    "Reaction",
    "reaction_metadata",
]
