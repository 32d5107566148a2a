"""Where a site sits on the lab: the lab's own images, its database on the first worker, a filestore
folder every node sees (the lab's nodes share this machine's disk), and no Traefik network unless
the caller gives one. The demo, the benchmarks and the tests place their sites this way."""

from __future__ import annotations

from typing import Any

from clusters.models import Site
from lab.api import FILESTORE_ROOT, LabInfo


def lab_site_fields(
    lab: LabInfo, slug: str, *, odoo: str = "odoo", image: str | None = None
) -> dict[str, Any]:
    """Site fields for `slug` on the lab's Odoo image `odoo` (or `image`, a tag of it)."""
    ref = lab.image(odoo)
    return {
        "slug": slug,
        "image": image or ref.ref,
        "series": ref.series,
        "db_image": lab.image("postgres").ref,
        "redis_image": lab.image("redis").ref,
        "db_name": slug,
        "db_node": lab.workers[0].hostname,
        "replicas": 2,
        "filestore_kind": Site.Filestore.BIND,
        "bind_path": f"{FILESTORE_ROOT}/{slug}",
        "traefik_network": "",
        "traefik_certresolver": "",
    }
