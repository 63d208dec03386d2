"""Page rendering: Jinja2 templates (service first, then shared) in the reader's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from shared.http.i18n import LANG_COOKIE, Translator, request_language
from shared.http.security import CSRF_COOKIE, csrf_token
from shared.runtime import Runtime, ServiceSpec

SHARED_WEB = Path(__file__).parent / "web"


def templates_for(spec: ServiceSpec) -> Jinja2Templates:
    folders = [SHARED_WEB / "templates"]
    if spec.package_dir is not None:
        folders.insert(0, spec.package_dir / "web" / "templates")
    templates = Jinja2Templates(directory=folders[-1])
    templates.env.loader = ChoiceLoader([FileSystemLoader(str(f)) for f in folders])
    return templates


def locale_dirs(spec: ServiceSpec) -> list[Path]:
    dirs = [SHARED_WEB / "locale"]
    if spec.package_dir is not None:
        dirs.append(spec.package_dir / "web" / "locale")
    return dirs


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page in the reader's language, remembering a language chosen by ?lang=.

    Every page carries the browser's CSRF token (set as a cookie on its first page) for its
    forms and scripts to send back."""
    language = request_language(request)
    translator: Translator = request.app.state.translator
    templates: Jinja2Templates = request.app.state.templates
    runtime: Runtime = request.app.state.runtime
    csrf = csrf_token(request)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "_": translator.gettext(language),
            "lang": language,
            "service": runtime.spec,
            "csrf_token": csrf,
            **context,
        },
        status_code=status_code,
    )
    secure = not runtime.settings.development
    if request.cookies.get(CSRF_COOKIE) != csrf:
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=secure)
    if request.query_params.get("lang") == language:
        response.set_cookie(
            LANG_COOKIE,
            language,
            max_age=365 * 86400,
            httponly=True,
            samesite="strict",
            secure=secure,
        )
    return response
