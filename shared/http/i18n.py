"""Vietnamese and English for the pages: gettext catalogs (.po, kept with Babel) read at start.

Catalogs are read from the .po files directly (babel.messages.pofile), so no compile
step stands between an edit and a running service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from babel.messages.pofile import read_po
from fastapi import Request

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
LANG_COOKIE = "aidport_lang"

Gettext = Callable[[str], str]


def load_catalog(locale_dirs: Iterable[Path], language: str) -> dict[str, str]:
    messages: dict[str, str] = {}
    for folder in locale_dirs:
        po = folder / language / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            continue
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        for message in catalog:
            if message.id and isinstance(message.id, str) and message.string:
                messages[message.id] = str(message.string)
    return messages


class Translator:
    def __init__(self, locale_dirs: Iterable[Path]) -> None:
        dirs = list(locale_dirs)
        self.catalogs = {lang: load_catalog(dirs, lang) for lang in LANGUAGES}

    def gettext(self, language: str) -> Gettext:
        catalog = self.catalogs.get(language, {})
        return lambda message: catalog.get(message, message)


def request_language(request: Request) -> str:
    """?lang= wins, then the cookie, then the browser's Accept-Language, then Vietnamese."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    accept = request.headers.get("accept-language", "")
    for part in accept.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE
