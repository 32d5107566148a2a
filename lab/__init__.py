"""The local multi-node Docker Swarm lab: a real Swarm of several engines on one machine.

    from lab import up, down, status, info
    lab = up(workers_count=2)       # LabInfo: nodes, sockets, registry, image refs
    lab.image("odoo").pinned        # 10.231.0.1:5000/oplab/odoo@sha256:...

The driver is pure Python over the docker SDK and a few system tools: apart from apps.py (the
Django app) and the commands in management/ (`manage.py lab`, `manage.py demo`), nothing here
imports Django or the panel.
"""

from lab.api import LabInfo, NodeInfo, StatusRow, down, info, status, up
from lab.build import ImageRef
from lab.errors import LabError

__all__ = ["ImageRef", "LabError", "LabInfo", "NodeInfo", "StatusRow", "down", "info", "status", "up"]
