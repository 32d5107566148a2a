"""The clusters app's models: the inventory (core), each cluster's edge, sites' backups and rehearsals."""

from clusters.models.backup import Backup
from clusters.models.core import Cluster, Domain, Node, Site
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
