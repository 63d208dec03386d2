"""The reporting service on the real broker and database: the fixed contract events are
produced to the three topics, its consumer folds them, and its API answers, live and as_of,
in JSON, CSV and XLSX, to the roles allowed to ask."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import openpyxl
import pytest
from aiokafka import AIOKafkaProducer

from services.reporting import api, pages, projections
from services.reporting.domain import picture
from services.reporting.main import SPEC
from shared.db import create_pool
from shared.envelope import to_kafka
from shared.http.app import create_app
from shared.infra.kafka_broker import KafkaBroker, create_topics
from shared.settings import Settings, all_topics, topic_of
from tests.e2e.stack import until
from tests.integration.apps import bearer, serving, settings_for
from tests.reporting_events import T0, Published, as_recorded, flow, stored

pytestmark = pytest.mark.integration

NEW = uuid.UUID("00000000-0000-4000-8000-00000000a001")
LEGACY = uuid.UUID("00000000-0000-4000-8000-00000000a002")
WAITING = uuid.UUID("00000000-0000-4000-8000-00000000a003")


@dataclass
class Reporting:
    client: httpx.AsyncClient
    settings: Settings
    pool: asyncpg.Pool
    app: Any

    async def get(self, path: str, user: str = "viewer", **params: str) -> httpx.Response:
        return await self.client.get(path, params=params, headers=bearer(user, self.settings))


def the_events() -> list[Published]:
    return [
        *flow(NEW, donor="Japan", doses=1000, rejected=10),
        *flow(LEGACY, donor="COVAX", doses=2000, legacy=True),
        *flow(WAITING, donor="COVAX", doses=500, until="arrived", var_filed=False),
    ]


async def publish(bootstrap: str, prefix: str, events: list[Published]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for n, p in enumerate(events, start=1):
            record = to_kafka(as_recorded(p, n), f"aidport/{p.source}")
            topic = topic_of(p.source, prefix)
            await producer.send_and_wait(topic, record.value, record.key, headers=record.headers)
        poison = [("ce_specversion", b"1.0"), ("ce_type", b"aidport.customs.Nonsense.v1")]
        await producer.send_and_wait(
            topic_of("customs", prefix), b"{not json", b"x", headers=poison
        )
    finally:
        await producer.stop()


@pytest.fixture
async def reporting(database: str, kafka: KafkaBroker) -> AsyncIterator[Reporting]:
    prefix = f"rep{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    settings = settings_for("reporting", database, kafka.bootstrap_servers, prefix)
    app = create_app(SPEC, settings, [api.router, pages.router])
    pool = await create_pool(database, max_size=2)
    events = the_events()
    try:
        async with serving(app) as client:
            await publish(kafka.bootstrap_servers, prefix, events)

            async def taken_in() -> bool:
                kept = await pool.fetchval("SELECT count(*) FROM report_events")
                dead = await pool.fetchval("SELECT count(*) FROM dead_letters")
                return bool(kept == len(events) and dead == 1)

            await until(taken_in, timeout=90)
            yield Reporting(client, settings, pool, app)
    finally:
        await pool.close()


async def test_the_dashboard_shows_every_consignment_once_with_stuck_items(
    reporting: Reporting,
) -> None:
    response = await reporting.get("/api/v1/dashboard")
    assert response.status_code == 200, response.text
    view = response.json()
    stages = {row["stage"]: row for row in view["pipeline"]}
    assert sum(row["consignments"] for row in view["pipeline"]) == 3
    assert stages["received"]["consignments"] == 2
    assert stages["arrived"] == {"stage": "arrived", "consignments": 1, "doses": 500}
    donors = {row["key"]: row["announced_doses"] for row in view["donors"]}
    assert donors == {"COVAX": 2500, "Japan": 1000}
    kinds = {row["kind"] for row in view["stuck"]}
    assert {"clearance_over_target", "arrival_report_overdue", "dead_letter"} <= kinds
    hanoi = next(p for p in view["provinces"] if p["code"] == "01")
    assert hanoi["basis"] == "received"
    assert hanoi["received_doses"] == 494 + 999  # one short in each notice
    clearance = next(d for d in view["lead_times"] if d["step"] == "aircraft_to_release")
    assert clearance["count"] == 2


async def test_the_dashboard_lists_the_oldest_stuck_items_and_the_export_all(
    reporting: Reporting, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = (await reporting.get("/api/v1/dashboard")).json()
    total = everything["stuck_total"]
    assert total == len(everything["stuck"]) >= 3
    monkeypatch.setattr(picture, "STUCK_LISTED", 1)
    capped = (await reporting.get("/api/v1/dashboard")).json()
    oldest = everything["stuck"][0]
    assert capped["stuck"] == [oldest, everything["stuck"][-1]]  # and the dead letter
    assert capped["stuck_total"] == total
    exported = await reporting.get("/api/v1/dashboard", format="csv", table="stuck")
    assert len(exported.text.strip().splitlines()) == 1 + total  # a header, then every one


async def test_dashboards_asked_at_once_are_each_whole(reporting: Reporting) -> None:
    """Requests that come while the live picture is being added up share it: each answer is
    still whole, with the consumer's own problems listed once."""
    alone = (await reporting.get("/api/v1/dashboard")).json()
    answers = await asyncio.gather(*(reporting.get("/api/v1/dashboard") for _ in range(8)))
    for answer in answers:
        view = answer.json()
        assert {k: v for k, v in view.items() if k != "as_of"} == {
            k: v for k, v in alone.items() if k != "as_of"
        }
        assert [s["kind"] for s in view["stuck"]].count("dead_letter") == 1


async def test_as_of_replays_the_kept_events_up_to_that_moment(reporting: Reporting) -> None:
    live = (await reporting.get("/api/v1/dashboard")).json()
    now = (await reporting.get("/api/v1/dashboard", as_of=live["as_of"])).json()
    assert now["replayed"] is True
    for key in ("pipeline", "lead_times", "provinces", "donors", "channels", "products"):
        assert now[key] == live[key], key
    early = (T0 + timedelta(hours=2, minutes=30)).isoformat()
    then = (await reporting.get("/api/v1/dashboard", as_of=early)).json()
    assert {r["stage"]: r["consignments"] for r in then["pipeline"]}["announced"] == 3
    before = await reporting.get(f"/api/v1/shipments/{NEW}/timeline", as_of=early)
    assert [e["event"] for e in before.json()["events"]] == [
        "ShipmentAnnounced",
        "ClearanceCaseOpened",
    ]


async def test_the_timeline_lists_every_service_with_its_actors(reporting: Reporting) -> None:
    response = await reporting.get(f"/api/v1/shipments/{NEW}/timeline")
    events = response.json()["events"]
    assert {e["service"] for e in events} == {"intake", "customs", "allocation"}
    assert ("RoundApproved", "approver.moh") in {(e["event"], e["actor"]) for e in events}
    assert (await reporting.get(f"/api/v1/shipments/{uuid.uuid4()}/timeline")).status_code == 404


async def test_the_donor_report_and_the_province_summary(reporting: Reporting) -> None:
    report = (await reporting.get("/api/v1/donors/Japan/report")).json()
    (one,) = report["consignments"]
    assert one["stage"] == "received" and one["lines"][0]["accepted"] == 990
    assert {(r["where"], r["reason"]) for r in one["rejections"]} >= {("airport", "damaged")}
    summary = await reporting.get("/api/v1/provinces/01/summary", user="province-01")
    assert summary.status_code == 200
    assert {n["donor"] for n in summary.json()["notices"]} == {"Japan", "COVAX"}
    names = [d["key"] for d in (await reporting.get("/api/v1/donors")).json()]
    assert names == ["COVAX", "Japan"]


async def test_roles_and_scopes(reporting: Reporting) -> None:
    assert (await reporting.get("/api/v1/provinces/79/summary", "province-01")).status_code == 403
    assert (await reporting.get("/api/v1/dashboard", "province-01")).status_code == 403
    assert (await reporting.get("/api/v1/donors", "customs.han")).status_code == 403
    assert (await reporting.get("/api/v1/dashboard", "allocation.moh")).status_code == 200
    anonymous = await reporting.client.get("/api/v1/dashboard")
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/dashboard", {"as_of": "last tuesday"}, "as_of"),
        ("/api/v1/dashboard", {"as_of": "2099-01-01"}, "as_of"),
        ("/api/v1/dashboard", {"as_of": "1999-12-31"}, "as_of"),
        ("/api/v1/dashboard", {"format": "pdf"}, "format"),
        ("/api/v1/dashboard", {"format": "csv", "table": "nothing"}, "table"),
        ("/api/v1/donors/Japan/report", {"since": "2021-09-01", "until": "2021-08-01"}, "until"),
        ("/api/v1/provinces/01/summary", {"as_of": "2021-02-30"}, "as_of"),
    ],
)
async def test_bad_query_parameters_are_problems(
    reporting: Reporting, path: str, params: dict[str, str], field: str
) -> None:
    response = await reporting.get(path, **params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text


async def test_every_table_exports_as_csv_and_xlsx(reporting: Reporting) -> None:
    exported = await reporting.get("/api/v1/dashboard", format="csv", table="donors")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert {r["key"]: int(r["announced_doses"]) for r in rows} == {"COVAX": 2500, "Japan": 1000}
    workbook = await reporting.get("/api/v1/dashboard", format="xlsx")
    book = openpyxl.load_workbook(io.BytesIO(workbook.content), read_only=True)
    assert {"pipeline", "lead_times", "provinces", "donors", "stuck"} <= set(book.sheetnames)
    pipeline = list(book["pipeline"].iter_rows(values_only=True))
    assert pipeline[0] == ("stage", "consignments", "doses")
    assert sum(int(r[1]) for r in pipeline[1:]) == 3
    report = await reporting.get("/api/v1/donors/COVAX/report", format="xlsx")
    sheets = openpyxl.load_workbook(io.BytesIO(report.content), read_only=True).sheetnames
    assert sheets == ["consignments", "recipients", "rejections"]
    timeline = await reporting.get(f"/api/v1/shipments/{NEW}/timeline", format="csv")
    assert timeline.content.decode("utf-8-sig").startswith("recorded_at,service,event")


async def test_a_rebuild_equals_the_incrementally_folded_facts(reporting: Reporting) -> None:
    before = await stored(reporting.pool)
    assert all(before.values())  # facts and every kind of standing row
    replayed = await reporting.app.state.runtime.rebuild_projections()
    assert replayed == len(the_events())
    assert await stored(reporting.pool) == before
    for page in (1, 2, 7):  # pages that end inside a consignment's events
        assert await projections.rebuild(reporting.pool, page) == len(the_events())
        assert await stored(reporting.pool) == before, page


async def test_readiness_says_reporting_publishes_nothing(reporting: Reporting) -> None:
    ready = (await reporting.client.get("/health/ready")).json()
    assert ready["components"]["relay"]["reason"].startswith("none")
