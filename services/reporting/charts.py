"""Charts drawn on the server as SVG: no script, no style attribute (the CSP forbids inline
style), classes only. Each chart names itself (``<title>``) and the page puts the same
numbers in a table beside it, so a screen reader reads the table."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from markupsafe import Markup

WIDTH = 640
BAR = 22  # height of one bar and its gap
LABEL = 180  # room for the labels on the left
TEXT_Y = 15


def bars(title: str, rows: Sequence[tuple[str, float]], css: str = "bar") -> Markup:
    """A horizontal bar chart of ``rows`` (label, value), the longest bar full width."""
    top = max((value for _, value in rows), default=0) or 1
    room = WIDTH - LABEL - 90
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {max(len(rows), 1) * BAR + 4}" role="img"'
        f' aria-label="{escape(title, {chr(34): "&quot;"})}" focusable="false">',
        f"<title>{escape(title)}</title>",
    ]
    for n, (label, value) in enumerate(rows):
        y = n * BAR + 2
        width = max(round(value / top * room, 1), 0.0)
        parts.append(
            f'<text class="label" x="{LABEL - 6}" y="{y + TEXT_Y}" text-anchor="end">'
            f"{escape(label[:28])}</text>"
            f'<rect class="{css}" x="{LABEL}" y="{y}" width="{width}" height="{BAR - 6}"/>'
            f'<text class="value" x="{LABEL + width + 4}" y="{y + TEXT_Y}">{_number(value)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _number(value: float) -> str:
    if float(value).is_integer() or value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.3f}" if value < 1 else f"{value:,.2f}"
