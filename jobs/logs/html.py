"""Log lines as HTML, for the live stream (server-sent events carry ready-made HTML for htmx).

Pages render lines through templates/jobs/partials/log_lines.html with Django's autoescape; this
function makes the same markup for the event stream, where no template runs, escaping the text the
same way (a test holds the two to the same output). Log text is never marked safe.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.html import escape

from jobs.logs.store import LogLine


@cache
def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def clock(at: datetime) -> str:
    return at.astimezone(_zone()).strftime("%H:%M:%S")


def line_html(line: LogLine) -> str:
    css = "ln" if line.stream == "stdout" else f"ln {line.stream}"
    return (
        f'<div class="{css}" data-seq="{line.seq}"><time>{clock(line.time)}</time>{escape(line.text)}</div>'
    )


def lines_html(lines: list[LogLine]) -> str:
    return "".join(line_html(x) for x in lines)
