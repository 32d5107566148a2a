"""What a failed task's log says, picked for the job's error: Odoo's ERROR lines and tracebacks."""

from clusters import swarm_ops as ops


def test_a_traceback_of_a_dotted_exception_is_an_error_line() -> None:
    lines = [
        "Traceback (most recent call last):",
        '  File "/opt/odoo/odoo", line 9, in <module>',
        'psycopg2.OperationalError: could not translate host name "shop_db" to address',
    ]
    assert ops.error_lines(lines) == [lines[-1]]


def test_odoo_error_lines_and_bare_exceptions() -> None:
    lines = [
        "2026-12-06 17:52:39,777 7 INFO shop odoo.modules.loading: Modules loaded.",
        "2026-12-06 17:52:39,778 7 ERROR shop odoo.modules.loading: Some modules are not loaded",
        "KeyboardInterrupt",
        "ValueError: bad",
        "TimeoutError",
    ]
    assert ops.error_lines(lines, limit=5) == [lines[1], lines[3], lines[4]]
