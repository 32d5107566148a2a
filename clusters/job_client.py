"""A job's engine: its cluster's, with engine trouble turned into the job's failure (site jobs and
the edge's alike)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import docker
import requests

from clusters import engine
from clusters import swarm_ops as ops
from jobs.runner import JobFailed, JobRunner


@contextlib.contextmanager
def job_client(runner: JobRunner) -> Iterator[docker.DockerClient]:
    """The site's cluster engine; an engine that cannot be reached, or is lost mid-job, fails the
    job with its reason.

    The body's own exceptions must not pass through client_for's handler: it turns everything into
    an EngineError, so a cancel (JobCancelled) or a JobFailed would end as "the engine answered
    with an error: ...". The client is therefore closed without the exception (ExitStack.close),
    and only engine trouble raised by the body is translated here."""
    stack = contextlib.ExitStack()
    try:
        client = stack.enter_context(engine.client_for(runner.cluster))
    except engine.EngineError as exc:
        raise JobFailed(exc.message) from exc
    try:
        yield client
    except ops.SwarmError as exc:
        raise JobFailed(str(exc)) from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException, ConnectionError) as exc:
        raise JobFailed(engine_lost(runner, exc)) from exc
    finally:
        stack.close()


def engine_lost(runner: JobRunner, exc: BaseException) -> str:
    """What an engine error in the middle of a job means, for the job's error line."""
    endpoint = getattr(runner.cluster, "endpoint", "?")
    reason = engine._classify(exc, endpoint).message  # the engine module's own wording
    # The step that raised has already been marked failed by the time this runs; the first one
    # failed is where the engine was lost (a restore attempted after it fails too).
    step = next((s for s in runner.job.steps if s.get("state") in ("running", "failed")), None)
    return f"{reason} (during {step['name']})" if step else reason
