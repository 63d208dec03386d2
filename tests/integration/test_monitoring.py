"""The monitoring files of docker-compose.yml, checked without a docker engine.

Prometheus' own checker (promtool, from Debian's prometheus package) validates the scrape
configuration and the alert rules and runs the alerts' unit tests; the Grafana dashboard is
checked structurally, and every metric and label that the dashboard and the alerts name must
exist in the code, so that a renamed metric cannot leave an empty panel or a silent alert.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from shared import observability
from tests.integration.compose import load
from tests.integration.test_compose import environment
from tests.tools import require

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "aidport.json"
# Labels that Prometheus adds to every scraped series (job, instance, the target's service)
# or that belong to histograms (le).
TARGET_LABELS = {"job", "instance", "service", "le"}
SELECTOR = re.compile(r"\b(aidport_[a-z_]+|up)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-z_]+)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def promtool(*args: str) -> str:
    done = subprocess.run(
        [require("promtool", "prometheus"), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_promtool_accepts_the_scrape_configuration_and_its_rule_files() -> None:
    out = promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert "1 rule files found" in out


def test_promtool_accepts_the_alert_rules() -> None:
    promtool("check", "rules", str(PROMETHEUS / "alerts.yml"))


def test_the_alerts_fire_on_made_up_series_as_their_unit_tests_expect() -> None:
    out = promtool("test", "rules", str(PROMETHEUS / "tests" / "alerts.test.yml"))
    assert "SUCCESS" in out


def test_promtool_refuses_a_broken_rule(tmp_path: Path) -> None:
    """The check above can fail: a rule with a PromQL syntax error is refused."""
    broken = tmp_path / "alerts.yml"
    broken.write_text((PROMETHEUS / "alerts.yml").read_text().replace(") > 120", ") >> 120", 1))
    tool = require("promtool", "prometheus")
    done = subprocess.run([tool, "check", "rules", str(broken)], capture_output=True, timeout=120)
    assert done.returncode != 0


# -- what the code exposes ---------------------------------------------------------------------


def code_metrics() -> dict[str, set[str]]:
    """Every metric the code defines, by each name it is scraped under, with its labels."""
    metrics: dict[str, set[str]] = {}
    for value in vars(observability).values():
        if isinstance(value, MetricWrapperBase):
            name, labels = value._name, set(value._labelnames)
            suffixes = {
                "counter": ["_total"],
                "histogram": ["_bucket", "_count", "_sum"],
            }.get(value._type, [""])
            for suffix in suffixes:
                metrics[name + suffix] = labels
    # Metrics defined elsewhere in the code (a service's own): known by name only.
    for path in [*ROOT.glob("services/**/*.py"), *ROOT.glob("shared/**/*.py")]:
        for name in re.findall(r'"(aidport_[a-z_]+)"', path.read_text()):
            metrics.setdefault(name, set())
    return metrics


def check_expression(expr: str, metrics: dict[str, set[str]]) -> list[str]:
    """What an expression names that the code does not expose: metrics, then labels."""
    problems = []
    named = set(re.findall(r"\baidport_[a-z_]+\b", expr))
    problems += [f"unknown metric {name}" for name in sorted(named - set(metrics))]
    known_labels = TARGET_LABELS.union(*(metrics.get(n, set()) for n in named))
    for metric, matchers in SELECTOR.findall(expr):
        labels = metrics.get(metric, set()) | TARGET_LABELS
        problems += [
            f"{metric} has no label {lab}" for lab in MATCHER.findall(matchers) if lab not in labels
        ]
    for grouping in GROUPING.findall(expr):
        for label in (part.strip() for part in grouping.split(",")):
            if label and label not in known_labels:
                problems.append(f"grouping by unknown label {label}")
    return problems


def test_the_metric_check_catches_a_renamed_metric_or_label() -> None:
    metrics = code_metrics()
    assert (
        check_expression("sum by (step) (rate(aidport_lead_time_seconds_count[5m]))", metrics) == []
    )
    assert check_expression("aidport_relay_lag_events", metrics) == [
        "unknown metric aidport_relay_lag_events"
    ]
    assert check_expression('aidport_lead_time_seconds_bucket{stage="x"}', metrics) == [
        "aidport_lead_time_seconds_bucket has no label stage"
    ]
    assert check_expression("sum by (stage) (aidport_lead_time_seconds_count)", metrics) == [
        "grouping by unknown label stage"
    ]


# -- the alert rules ---------------------------------------------------------------------------


def alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def test_the_alerts_cover_the_operators_cases_and_name_only_real_metrics() -> None:
    rules = alert_rules()
    names = {rule["alert"] for rule in rules}
    assert {"RelayStuck", "ConsumerLag", "DeadLettersGrowing", "ServiceDown"} <= names
    assert {"ClearanceOverSameDayTarget", "ProvinceOverSevenDayTarget"} <= names
    metrics = code_metrics()
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert check_expression(rule["expr"], metrics) == [], rule["alert"]


def test_the_sla_alerts_use_buckets_the_lead_time_histogram_has() -> None:
    """A bucket boundary the histogram lacks would make the alert compare with nothing."""
    buckets = set(observability.LEAD_TIME._upper_bounds)
    assert {86400.0, 604800.0} <= buckets
    text = (PROMETHEUS / "alerts.yml").read_text()
    for bound in re.findall(r'le=~"(\d+)', text):
        assert float(bound) in buckets


# -- the scrape targets ------------------------------------------------------------------------


def test_every_service_with_a_metrics_port_is_a_scrape_target() -> None:
    compose = load(ROOT / "docker-compose.yml", environment())
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    for name, service in compose["services"].items():
        port = service.get("environment", {}).get("AIDPORT_METRICS_PORT")
        if port:
            assert f"{name}:{port}" in targets, name
    assert "reporting:9100" in targets  # the reporting service (port 8004), once merged
    mounts = compose["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in mounts


# -- the Grafana dashboard ---------------------------------------------------------------------


def dashboard_panels() -> list[dict[str, Any]]:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"]
    panels = dashboard["panels"]
    assert panels
    return panels


def test_the_dashboard_is_well_formed() -> None:
    panels = dashboard_panels()
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    datasource = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel["targets"], panel
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"]
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


def test_the_dashboard_shows_the_operators_metrics_and_only_real_ones() -> None:
    panels = [panel for panel in dashboard_panels() if panel["type"] != "row"]
    expressions = [target["expr"] for panel in panels for target in panel["targets"]]
    metrics = code_metrics()
    for expr in expressions:
        assert check_expression(expr, metrics) == [], expr
    shown = " ".join(expressions)
    for required in [
        "aidport_relay_backlog_events",
        "aidport_relay_oldest_unpublished_age_seconds",
        "aidport_consumer_lag_messages",
        "aidport_dead_letters",
        "aidport_parked_messages",
        "aidport_http_request_duration_seconds_count",
        "aidport_http_request_duration_seconds_bucket",
        "aidport_lead_time_seconds_bucket",
    ]:
        assert required in shown, f"no panel shows {required}"


def test_grafana_is_provisioned_from_the_committed_files() -> None:
    compose = load(ROOT / "docker-compose.yml", environment())
    grafana = compose["services"]["grafana"]
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "aidport.yml").read_text()
    )["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", grafana["image"])


@pytest.mark.parametrize("path", sorted(GRAFANA.rglob("*.yml")) + sorted(PROMETHEUS.rglob("*.yml")))
def test_every_monitoring_file_is_valid_yaml(path: Path) -> None:
    assert yaml.safe_load(path.read_text())
