"""The `lab` session fixture, for any test suite that needs the real multi-node Swarm lab.

    # tests/<suite>/conftest.py
    from lab.pytest_fixture import lab  # noqa: F401

It installs and starts the engine if needed (lab/install-engine.sh is idempotent) and calls `up()` once
per session. Anything that goes wrong raises, so tests error out: a lab test never silently skips.
The lab is left running after the session (the next `up()` takes seconds); set OPLAB_DOWN_AFTER=1 to
remove it at the end. OPLAB_WORKERS sets the number of workers (default 2).
"""

import os
import sys
from collections.abc import Iterator

import pytest

from lab import api
from lab import daemon as engine
from lab.api import LabInfo


def _log(line: str) -> None:
    print(line, file=sys.stderr)


def workers_wanted() -> int:
    return int(os.environ.get("OPLAB_WORKERS", "2"))


def bring_up() -> LabInfo:
    engine.install()
    return api.up(workers_wanted(), log=_log)


@pytest.fixture(scope="session")
def lab() -> Iterator[LabInfo]:
    info = bring_up()
    yield info
    if os.environ.get("OPLAB_DOWN_AFTER") == "1":
        api.down(log=_log)
