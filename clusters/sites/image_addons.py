"""Every addon an image carries, read from the image itself: the manifests a new digest brings.

A manifest change usually arrives inside a new image (a build with new addon code), not as an
upload, so the approval gate reads the image before a deploy changes anything. A one-off task with
the digest prints each addon's manifest text, one JSON line per addon, along Odoo's own addons
(found where Odoo images keep them, without importing Odoo) and then the site's addons path, the
order in which Odoo looks (the first folder holding a name wins). The panel parses the texts as
literals with the gate's parser: nothing from an addon is imported or executed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from clusters.approvals.gate.addons import AddonsIndex, index_from_texts
from clusters.sites.checksums import DEFAULT_ADDONS_PATH
from clusters.stack import SiteSpec
from clusters.stack.render import ServiceSpec, render_image_task

DEADLINE_S = 180
MAX_ADDONS = 5000
MAX_MANIFEST_BYTES = 256 * 1024
# Where Odoo images keep Odoo's own addons: the official image (Debian package) and a source
# checkout under /opt/odoo; the task also looks for odoo/addons on the image's python path.
CORE_ADDONS_DIRS = ("/usr/lib/python3/dist-packages/odoo/addons", "/opt/odoo/odoo/addons")

# argv[1]: JSON [core candidates]; argv[2:]: the site's addons paths. Prints `PATHS [...]`, then
# `ADDON {"name", "folder", "manifest"}` per addon, then `ADDONS-END <count>`.
SCRIPT = r"""
import json, os, sys
core = json.loads(sys.argv[1]) + [os.path.join(p, "odoo", "addons") for p in sys.path if p]
paths = []
for p in core + sys.argv[2:]:
    p = os.path.realpath(p)
    if os.path.isdir(p) and p not in paths:
        paths.append(p)
print("PATHS " + json.dumps(paths))
count = 0
for root in paths:
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name, "__manifest__.py")
        if name.startswith(".") or not os.path.isfile(path) or count >= MAX_ADDONS:
            continue
        with open(path, "rb") as f:
            text = f.read(MAX_BYTES).decode("utf-8", "replace")
        count += 1
        print("ADDON " + json.dumps({"name": name, "folder": os.path.join(root, name), "manifest": text}))
print("ADDONS-END %d" % count)
""".replace("MAX_ADDONS", str(MAX_ADDONS + 1)).replace("MAX_BYTES", str(MAX_MANIFEST_BYTES + 1))


def render_addons_task(spec: SiteSpec, run_id: str | None = None) -> ServiceSpec:
    """A one-off task with the site's pinned image that prints every addon manifest it carries."""
    args = [json.dumps(CORE_ADDONS_DIRS), *(spec.addons_path or DEFAULT_ADDONS_PATH)]
    return render_image_task(spec, "addons", ["python3", "-c", SCRIPT], args, run_id=run_id, on_network=False)


def parse_output(lines: Iterable[str]) -> AddonsIndex:
    """The image's addons index; ValueError when the output is cut, GateError for bad manifests."""
    paths: list[str] | None = None
    entries: list[tuple[str, str, str]] = []
    for line in lines:
        if line.startswith("PATHS "):
            paths = [str(p) for p in json.loads(line.removeprefix("PATHS "))]
        elif line.startswith("ADDON "):
            entry = json.loads(line.removeprefix("ADDON "))
            entries.append((str(entry["name"]), str(entry["folder"]), str(entry["manifest"])))
        elif line.startswith("ADDONS-END "):
            if paths is None or int(line.split()[1]) != len(entries):
                raise ValueError("the addons task's output is incomplete")
            return index_from_texts(paths, entries)
    raise ValueError("the addons task printed no ADDONS-END line")
