"""The local Swarm lab, for the benchmarks that run services on it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from bench._run import CannotMeasure

# A Swarm task in one of these states will not run again.
ENDED = {"complete", "failed", "rejected", "shutdown", "orphaned"}


@contextlib.contextmanager
def lab_needed() -> Iterator[None]:
    """Around bringing the lab up: no docker engine, not root, a broken lab all mean there is nothing
    to measure on (CannotMeasure), not a failed run."""
    try:
        yield
    except Exception as exc:
        raise CannotMeasure(f"the local Swarm lab is not available: {type(exc).__name__}: {exc}") from exc
