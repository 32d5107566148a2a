"""The local multi-node Docker Swarm lab (see shared/docs/swarm-lab-notes.md for why it looks like this).

    from lab import up, down, status, info
    lab = up(workers_count=2)       # LabInfo: nodes, sockets, registry, image refs
    lab.image("odoo").pinned        # 10.231.0.1:5000/oplab/odoo@sha256:...

Pure Python over the docker SDK and a few system tools; nothing here imports Django.
"""

from lab.api import LabInfo, NodeInfo, StatusRow, down, info, status, up
from lab.build import ImageRef
from lab.errors import LabError

__all__ = ["ImageRef", "LabError", "LabInfo", "NodeInfo", "StatusRow", "down", "info", "status", "up"]
