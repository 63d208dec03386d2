"""The consumer runner and its parts: fetch and sequence, apply, park, dead-letter."""

from shared.consumer.runner import (
    TRANSIENT_ERRORS,
    ConsumerRunner,
    Handler,
    reaction_metadata,
)

__all__ = ["TRANSIENT_ERRORS", "ConsumerRunner", "Handler", "reaction_metadata"]
