from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.infra.kafka_broker import KafkaBroker
from shared.infra.postgres import EmbeddedPostgres
from tests.e2e.stack import Stack


@pytest.fixture
def stack(
    postgres: EmbeddedPostgres, kafka: KafkaBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    running = Stack(postgres, kafka, tmp_path_factory.mktemp("logs"))
    yield running
    running.stop()
