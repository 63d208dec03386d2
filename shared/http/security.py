"""FastAPI dependencies for the bearer token (API) or the session cookie (pages)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shared.auth import AuthError, Principal, verify_token

TOKEN_COOKIE = "aidport_token"
CSRF_HEADER = "x-requested-with"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _token(request: Request) -> tuple[str, bool]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    cookie = request.cookies.get(TOKEN_COOKIE)
    if cookie:
        return cookie, True
    raise AuthError("sign in first: send 'Authorization: Bearer <token>'")


def current_user(request: Request) -> Principal:
    token, from_cookie = _token(request)
    # A cookie rides along with any cross-site form; our own pages' scripts add this header.
    if from_cookie and request.method not in _SAFE_METHODS and CSRF_HEADER not in request.headers:
        raise AuthError("a page command needs the X-Requested-With header", 403)
    principal = verify_token(token, request.app.state.runtime.settings.jwt_secret)
    request.state.principal = principal
    return principal


def optional_user(request: Request) -> Principal | None:
    try:
        return current_user(request)
    except AuthError:
        return None


CurrentUser = Annotated[Principal, Depends(current_user)]
MaybeUser = Annotated[Principal | None, Depends(optional_user)]
