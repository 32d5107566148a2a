"""Running a management command as a script does, for tests: its exit code, output and message."""

from __future__ import annotations

import io

from django.core.management import CommandError, call_command


def run(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, the error message) of `manage.py ARGS`, as a script sees them."""
    out = io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=io.StringIO())
    except CommandError as exc:
        return exc.returncode, out.getvalue(), str(exc)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), ""
    return 0, out.getvalue(), ""
