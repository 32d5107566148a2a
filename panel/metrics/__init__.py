"""The panel's Prometheus metrics (README "Metrics"), served at /metrics.

This package is the bottom layer's part: who may read /metrics (access), the registry it serves
(registry), and the counters of events that no table records (events, kept in Redis so that web and
worker processes on any host add to one figure). The figures kept in the database are computed at
scrape time by clusters/metrics, the layer that may import the models; its AppConfig registers them.

Kept import-light on purpose: panel/settings.py imports `access` to parse PANEL_METRICS_ALLOW.
"""
