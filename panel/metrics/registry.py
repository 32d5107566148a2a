"""The registry /metrics serves: the event counters (Redis) and the collectors other apps add.

A registry of its own, not prometheus_client's global one: the global one carries this process's
own figures (its CPU, its garbage collector), which say nothing about the panel and differ from one
web process to the next. Collectors are never called at registration (auto_describe off), so no
database query runs while apps load.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import redis
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from panel.metrics import events

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=False)


class EventCollector(Collector):
    """The Redis-kept counters; every family is listed even before its first event."""

    def collect(self) -> Iterator[Metric]:
        try:
            counts = events.read()
            up = 1.0
        except redis.RedisError as exc:
            log.warning("metrics: could not read the event counters from Redis: %s", exc)
            counts, up = {}, 0.0
        for name, (doc, labels) in events.FAMILIES.items():
            family = CounterMetricFamily(f"panel_{name}", doc, labels=labels)
            for values, n in sorted(counts.get(name, {}).items()):
                family.add_metric(values, n)
            yield family
        yield _up("redis", up)


def _up(source: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "panel_metrics_source_up",
        "Whether a source of figures answered this scrape (1) or not (0).",
        labels=["source"],
    )
    family.add_metric([source], value)
    return family


class Parts(Collector):
    """Every registered collector in turn, then how long each took: the cost of a scrape as
    Prometheus sees it (one family for all parts, as the text format wants each name once)."""

    def __init__(self) -> None:
        self.parts: dict[str, Collector] = {}

    def collect(self) -> Iterator[Metric]:
        took = GaugeMetricFamily(
            "panel_metrics_collect_seconds", "Time this scrape spent collecting, by part.", labels=["part"]
        )
        for name, part in list(self.parts.items()):
            started = time.perf_counter()
            yield from part.collect()
            took.add_metric([name], time.perf_counter() - started)
        yield took


PARTS = Parts()
REGISTRY.register(PARTS)


def register(name: str, collector: Collector) -> None:
    """Add a collector under a name; a second call with the same name replaces the first (an
    AppConfig.ready run twice must not list its figures twice)."""
    PARTS.parts[name] = collector


register("events", EventCollector())
