"""The clusters app's models: the inventory (core) and each cluster's edge."""

from clusters.models.core import Backup, Cluster, Domain, Node, Site
from clusters.models.edge import EDGE_SETTINGS, SERVICE_NAME, Edge
from clusters.models.rehearsal import Rehearsal

__all__ = [
    "EDGE_SETTINGS",
    "SERVICE_NAME",
    "Backup",
    "Cluster",
    "Domain",
    "Edge",
    "Node",
    "Rehearsal",
    "Site",
]
