"""What every service's pages share: a signed-in user or the login page, and a 403 page."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shared.auth import Principal, Role
from shared.http.rendering import render


class LoginRequired(Exception):
    pass


def signed_in(user: Principal | None, *roles: Role) -> Principal:
    """The page's reader; a reader with another role gets the 403 page."""
    if user is None:
        raise LoginRequired
    if roles and user.role is not Role.ADMIN and user.role not in roles:
        raise PageForbidden(user)
    return user


class PageForbidden(Exception):
    def __init__(self, user: Principal) -> None:
        super().__init__(user.sub)
        self.user = user


def install_page_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _: LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(PageForbidden)
    async def forbidden(request: Request, error: PageForbidden) -> HTMLResponse:
        return render(request, "forbidden.html", status_code=403, user=error.user)


# The database answers in UTC; officers read Viet Nam time (UTC+7, no daylight saving).
VIET_NAM = timezone(timedelta(hours=7), "ICT")


def viet_nam_time(moment: datetime) -> datetime:
    """The moment in Viet Nam time; one at the very end of the calendar stays in UTC rather
    than overflow (such dates are refused now, but a page must not fail on old records)."""
    try:
        return moment.astimezone(VIET_NAM)
    except OverflowError:
        return moment


def page_row(row: Any, *json_columns: str) -> dict[str, Any]:
    """A projection row for a template: JSON columns decoded, times in Viet Nam time."""
    data: dict[str, Any] = {
        k: viet_nam_time(v) if isinstance(v, datetime) else v for k, v in row.items()
    }
    for column in json_columns:
        data[column] = data[column] or []
    return data
