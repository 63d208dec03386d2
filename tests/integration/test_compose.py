"""The compose file is valid for Docker Compose (checked with whichever client is here).

Skipped only on a machine without any Docker client. Where the ``docker`` client exists
but has no compose plugin, the standalone ``docker-compose`` serves (``.ci/run`` installs
it); a ``docker`` client with neither is a failure, not a skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"intake": 8001, "customs": 8002, "allocation": 8003}


def _compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_config_is_valid() -> None:
    command = _compose_command()
    if command is None:
        if shutil.which("docker"):
            pytest.fail("a docker client without compose: install its plugin or docker-compose")
        pytest.skip("no Docker client on this machine")
    result = subprocess.run(
        [*command, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_every_service_in_the_compose_file_runs_from_the_one_image() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for service, port in SERVICES.items():
        assert f"AIDPORT_SERVICE: {service}" in text
        assert f'"{port}:8000"' in text
        url = f"postgresql://postgres:postgres@postgres:5432/{service}"
        assert f"{service.upper()}_DATABASE_URL: {url}" in text
    assert "image: apache/kafka:4.1.1" in text
    assert "image: postgres:17" in text


def test_the_databases_and_scrape_targets_match_the_services() -> None:
    init = (ROOT / "deploy" / "postgres" / "init.sql").read_text()
    scrape = (ROOT / "deploy" / "prometheus.yml").read_text()
    for service in SERVICES:
        assert f"CREATE DATABASE {service};" in init
        assert f"{service}:8000" in scrape
