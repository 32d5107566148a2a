"""Writers on many connections at once still make one chain (real PostgreSQL, committed rows).

Without the advisory lock two transactions read the same last hash and the chain forks; verify
would then name the second of the twins."""

import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from panel.audit import record
from panel.models import AuditEvent

WRITERS, EACH = 8, 15


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_chain():  # type: ignore[no-untyped-def]
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(EACH):
                with transaction.atomic():  # as a view would: the action and its event together
                    record("site.scale", actor="system", target=f"writer{n}", detail=str(i))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    prev = list(AuditEvent.objects.order_by("id").values_list("prev_hash", flat=True))
    assert len(prev) == WRITERS * EACH and len(set(prev)) == len(prev)  # no two rows share a parent
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert f"ok: {WRITERS * EACH} events, chain intact" in out.getvalue()
