"""docker-compose.yml against the Compose Specification's JSON schema, with no Docker client.

The schema is vendored in ``compose-spec/`` (see its README). Beyond the schema, the checks
here are the ones ``docker compose config`` makes that matter for this file (references
between services, declared volumes, files that exist), plus the deployment rules: no default
secret, production settings, a restart policy and a healthcheck for every long-running
container.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.integration.compose import InterpolationError, interpolate, load

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SERVICES = {"intake": 8001, "customs": 8002, "allocation": 8003, "reporting": 8004}
REQUIRED = {
    "AIDPORT_JWT_SECRET": "set AIDPORT_JWT_SECRET to a random string of at least 32 bytes",
    "POSTGRES_PASSWORD": "set POSTGRES_PASSWORD to a random URL-safe string of at least 32 bytes",
    "GRAFANA_ADMIN_PASSWORD": "set GRAFANA_ADMIN_PASSWORD to a random string",
}
ONE_SHOT = {"topics"}


def environment(**overrides: str) -> dict[str, str]:
    """The shell's environment with the required secrets set, as a deployment would have."""
    env = {name: secrets.token_hex(32) for name in REQUIRED}
    return {**os.environ, **env, **overrides}


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return environment()


@pytest.fixture(scope="module")
def compose(env: dict[str, str]) -> dict[str, Any]:
    return load(COMPOSE, env)


def test_the_compose_file_is_valid_against_the_compose_specification(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "kafka", "topics", *SERVICES, "prometheus", "grafana"}
    for name, service in services.items():
        for dependency in service.get("depends_on", []):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name} uses undeclared volume {source}"
        if build := service.get("build"):
            assert (ROOT / build["context"] / build["dockerfile"]).is_file()


def test_the_check_runs_no_program(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No docker (or any other) client: an empty PATH, and no subprocess may start."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a program was started: {args}")

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(subprocess, "Popen", refuse)
    assert load(COMPOSE, environment())["services"]


def test_the_schema_catches_a_broken_compose_file(env: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("restart: unless-stopped", "restart: [no]", 1))
    with pytest.raises(jsonschema.ValidationError):
        load(broken, env)


@pytest.mark.parametrize("variable", sorted(REQUIRED))
def test_compose_refuses_to_start_without_each_secret(variable: str) -> None:
    env = environment()
    del env[variable]
    with pytest.raises(InterpolationError) as raised:
        load(COMPOSE, env)
    expected = f"required variable {variable} is missing a value: {REQUIRED[variable]}"
    assert str(raised.value) == expected
    with pytest.raises(InterpolationError):  # empty counts as missing (":?")
        load(COMPOSE, {**env, variable: ""})


def test_the_services_run_in_production_with_the_given_secrets(
    compose: dict[str, Any], env: dict[str, str]
) -> None:
    password = env["POSTGRES_PASSWORD"]
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == password
    for service, port in SERVICES.items():
        spec = compose["services"][service]
        assert spec["image"] == "aidport:latest"
        assert spec["ports"] == [f"{port}:8000"]
        settings = spec["environment"]
        assert settings["AIDPORT_SERVICE"] == service
        assert settings["AIDPORT_ENV"] == "production"
        assert settings["AIDPORT_DEMO_USERS"] == "false"
        assert settings["AIDPORT_JWT_SECRET"] == env["AIDPORT_JWT_SECRET"]
        url = f"postgresql://postgres:{password}@postgres:5432/{service}"
        assert settings[f"{service.upper()}_DATABASE_URL"] == url
    assert compose["services"]["kafka"]["image"] == "apache/kafka:4.1.1"
    assert compose["services"]["postgres"]["image"] == "postgres:17"


def test_no_secret_has_a_default_in_the_compose_file_or_the_image() -> None:
    text = COMPOSE.read_text()
    assert "development-secret" not in text
    for variable in REQUIRED:
        uses = re.findall(r"\$\{" + variable + r"([^}]*)\}", text)
        assert uses, variable
        assert all(not use or use.startswith(":?") for use in uses), uses
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if not line.startswith("#")]
    assert not [line for line in instructions if re.search("SECRET|PASSWORD|DATABASE_URL", line)]
    assert "AIDPORT_ENV=production" in dockerfile


def test_every_long_running_container_restarts_and_has_a_healthcheck(
    compose: dict[str, Any],
) -> None:
    for name, service in compose["services"].items():
        if name in ONE_SHOT:
            assert service["restart"] == "no"
            continue
        assert service.get("restart") in ("always", "unless-stopped"), name
        check = service.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    for service in SERVICES:  # the image has no curl: the check uses Python
        test = compose["services"][service]["healthcheck"]["test"]
        assert test[1] == "python" and "/health/ready" in test[-1]


def test_the_broker_in_compose_is_configured_as_the_launcher_configures_it(
    compose: dict[str, Any],
) -> None:
    """Each fixed setting of deploy/kafka/server.properties has its KAFKA_* twin in compose
    (the addresses differ by design: the launcher's are filled in at start)."""
    template = (ROOT / "deploy" / "kafka" / "server.properties").read_text()
    settings = dict(
        line.split("=", 1) for line in template.splitlines() if line and not line.startswith("#")
    )
    environment = compose["services"]["kafka"]["environment"]
    for key, value in settings.items():
        if "{" in value or key == "controller.quorum.bootstrap.servers":
            continue
        twin = "KAFKA_" + key.upper().replace(".", "_")
        assert str(environment.get(twin)).lower() == value.lower(), f"set {twin}: {value}"


def test_the_databases_and_scrape_targets_match_the_services() -> None:
    init = (ROOT / "deploy" / "postgres" / "init.sql").read_text()
    scrape = (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
    for service in SERVICES:
        assert f"CREATE DATABASE {service};" in init
        assert f"{service}:9100" in scrape


# -- the interpolation itself, case by case from the specification ---------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("$SET and ${SET}", "value and value"),
        ("$UNSET|${UNSET}", "|"),
        ("$$SET costs $$5", "$SET costs $5"),
        ("${UNSET:-fallback} ${EMPTY:-fallback} ${SET:-fallback}", "fallback fallback value"),
        ("${UNSET-fallback} ${EMPTY-fallback}", "fallback "),
        ("${UNSET:-${SET}} ${UNSET:-${ALSO_UNSET:-deep}}", "value deep"),
        ("${EMPTY?not raised} ${SET:?not raised}", " value"),
        ("${SET:+alt} ${EMPTY:+alt} ${EMPTY+alt} ${UNSET+alt}", "alt  alt "),
        ("100$ and $1", "100$ and $1"),
    ],
)
def test_interpolation_follows_the_specification(text: str, expected: str) -> None:
    env = {"SET": "value", "EMPTY": ""}
    assert interpolate(text, env) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${UNSET:?needed}", "required variable UNSET is missing a value: needed"),
        ("${EMPTY:?needed}", "required variable EMPTY is missing a value: needed"),
        ("${UNSET?needs $SET}", "required variable UNSET is missing a value: needs value"),
        ("${SET", "invalid interpolation format"),
        ("${SET/a/b}", "invalid interpolation format"),
    ],
)
def test_interpolation_errors_stop_the_load(text: str, message: str) -> None:
    with pytest.raises(InterpolationError, match=re.escape(message)):
        interpolate(text, {"SET": "value", "EMPTY": ""})
