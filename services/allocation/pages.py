"""Allocation pages: the allocation desk (rounds, a round's draft with its adjustment,
approval and amendment forms, the printable decision annex), the published policies, each
recipient's live inbox with its receipt form (a province's or a national recipient's), the
national store's dispatch desk, the printable notice and the discrepancies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.allocation import queries
from services.allocation.domain import RoundStatus
from services.allocation.policies import catalog
from services.allocation.queries import PAGE_ROWS
from services.allocation.recipients import Recipient, by_code, recipients
from shared.auth import Principal, Role
from shared.decider import NotFound
from shared.http.deps import RuntimeDep
from shared.http.pages import PageForbidden, page_row, signed_in
from shared.http.rendering import render
from shared.http.security import MaybeUser
from shared.runtime import Runtime

router = APIRouter(include_in_schema=False)
READERS = (
    Role.PROVINCE_OFFICER,
    Role.ALLOCATION_OFFICER,
    Role.ALLOCATION_APPROVER,
    Role.NATIONAL_VIEWER,
)
MINISTRY = (Role.ALLOCATION_OFFICER, Role.ALLOCATION_APPROVER, Role.NATIONAL_VIEWER)
NOTICE_JSON = ("lots", "dispatched_lots", "received_lots")
NATIONAL = (*MINISTRY, Role.STORE_OFFICER)


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request, runtime: RuntimeDep, user: MaybeUser, status: str | None = None
) -> Response:
    reader = signed_in(user, *READERS, Role.STORE_OFFICER)
    if reader.role is Role.STORE_OFFICER:
        return RedirectResponse("/dispatch", status_code=303)
    if reader.role is Role.PROVINCE_OFFICER:
        if not reader.scope:
            raise PageForbidden(reader)
        return RedirectResponse(f"/recipients/{reader.scope[0]}", status_code=303)
    chosen = RoundStatus(status) if status in tuple(RoundStatus) else None
    found = await queries.latest_rounds(runtime.pool, status=chosen)
    rounds = [page_row(r.model_dump()) for r in found]
    return render(
        request,
        "rounds.html",
        user=reader,
        rounds=rounds,
        recipients=recipients(),
        status=chosen.value if chosen else "",
        statuses=tuple(RoundStatus),
    )


def desk_context(reader: Principal, round_: dict[str, Any]) -> dict[str, Any]:
    """What the round page shows and offers: recipients by code, the forms the reader's role
    may use in the round's status."""
    status = round_.get("status") or "approved"
    role = reader.role
    officer = role in (Role.ALLOCATION_OFFICER, Role.ADMIN)
    approver = role in (Role.ALLOCATION_APPROVER, Role.ADMIN)
    reserve = sum(int(x.get("reserve_quantity") or 0) for x in round_["lines"])
    legacy = round_.get("policy_id") is None
    return {
        "user": reader,
        "round": round_,
        "recipients": by_code(),
        "policies": [found[-1] for found in catalog.catalog().values()],
        "may_adjust": officer and status == "drafted",
        "may_approve": approver and status == "drafted",
        "may_amend": approver and status == "approved" and not legacy,
        "may_release": officer and status == "approved" and reserve > 0 and not legacy,
    }


@router.get("/rounds/{round_id}", response_class=HTMLResponse)
async def round_desk(
    round_id: str, request: Request, runtime: RuntimeDep, user: MaybeUser
) -> HTMLResponse:
    reader = signed_in(user, *MINISTRY)
    found = await _round(runtime, round_id)
    if found is None:
        return render(request, "not_found.html", status_code=404, user=reader)
    return render(request, "round.html", **desk_context(reader, found))


@router.get("/rounds/{round_id}/annex", response_class=HTMLResponse)
async def decision_annex(
    round_id: str, request: Request, runtime: RuntimeDep, user: MaybeUser
) -> HTMLResponse:
    """The printable annex of the decision: recipients and quantities, per product."""
    reader = signed_in(user, *MINISTRY)
    found = await _round(runtime, round_id)
    if found is None or (found.get("status") or "approved") != "approved":
        return render(request, "not_found.html", status_code=404, user=reader)
    return render(request, "annex.html", user=reader, round=found, recipients=by_code())


async def _round(runtime: Runtime, round_id: str) -> dict[str, Any] | None:
    try:
        return page_row((await queries.round_by_id(runtime.pool, round_id)).model_dump())
    except NotFound:
        return None


@router.get("/policies", response_class=HTMLResponse)
async def policies(request: Request, user: MaybeUser) -> HTMLResponse:
    """The published policies, and the choice between the apportionment methods."""
    reader = signed_in(user, *MINISTRY)
    found = [versions for versions in catalog.catalog().values()]
    return render(request, "policies.html", user=reader, policies=found, recipients=by_code())


@router.get("/recipients/{code}", response_class=HTMLResponse)
@router.get("/provinces/{code}", response_class=HTMLResponse)  # the address of before
async def inbox(code: str, request: Request, runtime: RuntimeDep, user: MaybeUser) -> HTMLResponse:
    return await _inbox(request, runtime, user, code, "inbox.html")


@router.get("/recipients/{code}/fragment", response_class=HTMLResponse)
@router.get("/provinces/{code}/fragment", response_class=HTMLResponse)
async def inbox_fragment(
    code: str, request: Request, runtime: RuntimeDep, user: MaybeUser
) -> HTMLResponse:
    """Only the list, fetched again by the inbox page when the live feed says it changed."""
    return await _inbox(request, runtime, user, code, "_notices.html")


async def _inbox(
    request: Request, runtime: Runtime, user: Principal | None, code: str, template: str
) -> HTMLResponse:
    reader = signed_in(user, *READERS)
    recipient = by_code().get(code)
    if recipient is None:
        return render(request, "not_found.html", status_code=404, user=reader)
    if not reader.covers(code):  # a recipient's officer reads its own inbox only
        raise PageForbidden(reader)
    notices = [
        page_row(n.model_dump(), *NOTICE_JSON) for n in await queries.inbox(runtime.pool, code)
    ]
    return render(request, template, user=reader, recipient=recipient, notices=notices)


@router.get("/dispatch", response_class=HTMLResponse)
async def dispatch_desk(
    request: Request,
    runtime: RuntimeDep,
    user: MaybeUser,
    province: str = "",
) -> HTMLResponse:
    """The national store's notices still to send, each with its dispatch form; ``province``
    (any recipient's code) narrows the desk to one destination (the oldest page of all would
    hide the others)."""
    reader = signed_in(user, Role.STORE_OFFICER)
    chosen = province if province in by_code() else None
    waiting = await queries.to_dispatch(runtime.pool, chosen)
    notices = [page_row(n.model_dump(), *NOTICE_JSON) for n in waiting]
    return render(
        request,
        "dispatch.html",
        user=reader,
        notices=notices,
        recipients=recipients(),
        chosen=chosen or "",
    )


@router.get("/recipients/{code}/notices/{number}/print", response_class=HTMLResponse)
@router.get("/provinces/{code}/notices/{number}/print", response_class=HTMLResponse)
async def printable_notice(
    code: str, number: str, request: Request, runtime: RuntimeDep, user: MaybeUser
) -> HTMLResponse:
    """The notice on paper, with the decision number (empty until the round is decided)."""
    reader = signed_in(user, *READERS, Role.STORE_OFFICER, Role.ALLOCATION_APPROVER)
    recipient: Recipient | None = by_code().get(code)
    if recipient is not None and not reader.covers(code):
        raise PageForbidden(reader)
    notice = await queries.notice_by_number(runtime.pool, number)
    if recipient is None or notice is None or notice.province_code != code:
        return render(request, "not_found.html", status_code=404, user=reader)
    row = page_row(notice.model_dump(), *NOTICE_JSON)
    return render(request, "notice_print.html", user=reader, recipient=recipient, n=row)


@router.get("/discrepancies", response_class=HTMLResponse)
async def discrepancies(request: Request, runtime: RuntimeDep, user: MaybeUser) -> HTMLResponse:
    """Receipts with discrepancies across the country (national roles)."""
    reader = signed_in(user, *NATIONAL)
    page = await queries.discrepancies_page(runtime.pool, None, None, PAGE_ROWS)
    notices = [page_row(n.model_dump(), *NOTICE_JSON) for n in page.items]
    return render(request, "discrepancies.html", user=reader, notices=notices)
