"""Create the event and dead-letter topics on an existing cluster.

Run: ``python -m shared.infra.topics`` (the compose file does so before the services start).
"""

from __future__ import annotations

import asyncio
import os

from shared.infra.kafka_broker import create_topics
from shared.settings import all_topics


def main() -> None:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    prefix = os.environ.get("AIDPORT_TOPIC_PREFIX", "aidport")
    partitions = int(os.environ.get("AIDPORT_PARTITIONS", 6))
    asyncio.run(create_topics(bootstrap, all_topics(prefix), partitions=partitions))
    print(f"topics ready on {bootstrap}: {', '.join(all_topics(prefix))}")


if __name__ == "__main__":
    main()
