"""Reporting's use cases: each question (dashboard, donors, province, recipient, timeline) answered
live from the stored standings, or ``as_of`` a moment: the stored standings of the
consignments that had stopped changing by then, with the others replayed from their kept
events. There are no commands: reporting only reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from services.reporting import queries
from services.reporting.domain import picture, reports
from services.reporting.domain.picture import (
    STUCK_LISTED,
    Dashboard,
    Population,
    Tally,
    TotalRow,
)
from services.reporting.domain.replay import parse_as_of
from services.reporting.domain.reports import (
    DonorReport,
    ProvinceSummary,
    RecipientPart,
    RecipientSummary,
)
from shared.decider import NotFound
from shared.reference_data import national_recipients, provinces
from shared.runtime import Runtime
from shared.single_flight import SingleFlight
from shared.views import Db


def populations() -> list[Population]:
    """The 34 provinces and the population the per-100 figures divide by."""
    return [Population(p.code, p.name_vi, p.name_en, p.population_scale) for p in provinces()]


@dataclass(frozen=True)
class Moment:
    """When a question is asked about: now (live), or a past moment (replayed)."""

    at: datetime
    replayed: bool


@dataclass
class Reporting:
    db: Db
    consumer_group: str
    max_replay: int
    live: SingleFlight[tuple[Tally, datetime]] = field(default_factory=SingleFlight)
    """The live tally being added up: the replica's requests share it."""

    @classmethod
    def of(cls, runtime: Runtime) -> Reporting:
        settings = runtime.settings
        live = runtime.shared.setdefault("reporting live tally", SingleFlight())
        return cls(runtime.pool, settings.consumer_group, settings.reporting_max_replay, live)

    def moment(self, as_of: str | None) -> Moment:
        now = datetime.now(UTC)
        return Moment(now, False) if as_of is None else Moment(parse_as_of(as_of, now), True)

    async def tally(
        self, moment: Moment, stuck_limit: int | None = STUCK_LISTED
    ) -> tuple[Tally, datetime]:
        """The picture added up in SQL, and the moment it shows: as it stood then, or live;
        with the oldest ``stuck_limit`` stuck items (None: all, for an export). Live, the
        requests that come while it is being added up share it: every open dashboard
        refreshes on the same change, and each would otherwise add it all up again."""
        if moment.replayed:
            tally = await queries.tally_as_of(self.db, moment.at, self.max_replay, stuck_limit)
            return tally, moment.at
        if stuck_limit == STUCK_LISTED:
            return await self.live.run(self._live_tally)
        return await self._live_tally(stuck_limit)

    async def _live_tally(self, stuck_limit: int | None = STUCK_LISTED) -> tuple[Tally, datetime]:
        now = datetime.now(UTC)
        return await queries.live_tally(self.db, now, stuck_limit), now

    async def dashboard(
        self, as_of: str | None, stuck_limit: int | None = STUCK_LISTED
    ) -> Dashboard:
        moment = self.moment(as_of)
        tally, at = await self.tally(moment, stuck_limit)
        view = picture.dashboard_from(
            tally, populations(), at, moment.replayed, national_recipients()
        )
        if not moment.replayed:  # the consumer's own trouble is a fact of now only
            problems = await queries.pipeline_problems(self.db, self.consumer_group)
            view.stuck.extend(problems)
            view.stuck_total += len(problems)
        return view

    async def donors(self, as_of: str | None) -> list[TotalRow]:
        tally, _ = await self.tally(self.moment(as_of))
        return picture.donors(tally)

    async def donor_report(
        self,
        donor: str,
        as_of: str | None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> DonorReport:
        moment = self.moment(as_of)
        if moment.replayed:
            consignments = await queries.donor_consignments_as_of(
                self.db, donor, moment.at, self.max_replay
            )
        else:
            consignments = await queries.donor_consignments(self.db, donor)
        return reports.donor_report(consignments, donor, moment.at, since, until)

    async def recipient_part(self, moment: Moment, code: str) -> RecipientPart:
        if not moment.replayed:
            return await queries.live_recipient(self.db, code)
        return await queries.recipient_as_of(self.db, code, moment.at, self.max_replay)

    async def province_summary(self, code: str, as_of: str | None) -> ProvinceSummary:
        population = next((p for p in populations() if p.code == code), None)
        if population is None:
            raise NotFound(f"no province with code {code}", field="code", code="province-not-found")
        moment = self.moment(as_of)
        part = await self.recipient_part(moment, code)
        return reports.province_summary_from(part, population, moment.at)

    async def recipient_summary(self, code: str, as_of: str | None) -> RecipientSummary:
        recipient = next((r for r in national_recipients() if r.code == code), None)
        if recipient is None:
            raise NotFound(
                f"no national recipient with code {code} (a province's is at"
                f" /api/v1/provinces/{code}/summary)",
                field="code",
                code="recipient-not-found",
            )
        moment = self.moment(as_of)
        part = await self.recipient_part(moment, code)
        return reports.recipient_summary_from(part, recipient, moment.at)

    async def timeline(self, shipment_id: UUID, as_of: str | None) -> queries.Timeline:
        moment = self.moment(as_of)
        return await queries.timeline(self.db, shipment_id, moment.at if moment.replayed else None)
