"""Which installed modules changed since they were last updated (click-odoo-update's idea).

So that nobody reaches for `-u all`, the update form offers the installed modules whose code differs
from the code they were last updated with. The code is read where it runs: a one-off task with the
site's own image digest hashes every addon folder under the site's addons path (python3 is in every
Odoo image). The script is the panel's own, passed as `python3 -c`: nothing from an addon is
imported or executed, files are only read as bytes.

The hash follows click-odoo-contrib's `_addon_hash.py`: relative file names and contents in sorted
walk order, with the same default exclusions (`*.pyc,*.pyo,i18n/*.pot,i18n_extra/*.pot,static/*`:
compiled files, translation templates, and web assets that are served without an update), but
sha256 and every language file counted.

After a successful update, the checksums of the modules that Odoo actually updated (its INFO
"Loading module X (i/N)" lines: only modules being installed or updated log at INFO) are
stored in Site.module_checksums. A module never updated through the panel has no baseline: it is
reported as `unknown`, not as changed (offering every module on first use would defeat the point).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import docker

from clusters import swarm_ops as ops
from clusters.models import Site
from clusters.sites.client import one_off_guard
from clusters.sites.site_spec import spec_for
from clusters.stack import SiteSpec
from clusters.stack.render import ServiceSpec, render_image_task

# The official Odoo image's addons path, when the site names none.
DEFAULT_ADDONS_PATH = ("/mnt/extra-addons",)
EXCLUDE = ("*.pyc", "*.pyo", "i18n/*.pot", "i18n_extra/*.pot", "static/*")
DEADLINE_S = 300

# argv[1]: JSON list of exclusion patterns; argv[2:]: addons paths. Prints one JSON object
# {addon: sha256}; the first path that holds an addon wins, as on Odoo's addons path.
SCRIPT = r"""
import fnmatch, hashlib, json, os, sys
exclude = json.loads(sys.argv[1])
out = {}
for root in sys.argv[2:]:
    if not os.path.isdir(root):
        continue
    for name in sorted(os.listdir(root)):
        top = os.path.join(root, name)
        if name in out or not os.path.isfile(os.path.join(top, "__manifest__.py")):
            continue
        digest = hashlib.sha256()
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            rel = os.path.relpath(dirpath, top)
            for filename in sorted(filenames):
                path = filename if rel == "." else os.path.join(rel, filename)
                if any(fnmatch.fnmatch(path, p) for p in exclude):
                    continue
                digest.update(path.encode() + b"\0")
                with open(os.path.join(top, path), "rb") as f:
                    digest.update(f.read() + b"\0")
        out[name] = digest.hexdigest()
print("CHECKSUMS " + json.dumps(out, sort_keys=True))
"""


@dataclass(frozen=True)
class Changed:
    """Installed modules whose code differs from their last update, and those without a baseline."""

    changed: list[str]
    unknown: list[str]

    def as_dict(self) -> dict[str, list[str]]:
        return {"changed": self.changed, "unknown": self.unknown}


def render_checksum_task(spec: SiteSpec, run_id: str | None = None) -> ServiceSpec:
    """A one-off task with the site's pinned image that prints the checksums of its addons, on the
    database's node, where the update's one-off will need the image (render_update_task)."""
    paths = list(spec.addons_path or DEFAULT_ADDONS_PATH)
    args = [json.dumps(EXCLUDE), *paths]
    return render_image_task(
        spec, "checksum", ["python3", "-c", SCRIPT], args, run_id=run_id, on_db_node=True
    )


def parse_checksums(lines: Iterable[str]) -> dict[str, str]:
    for line in lines:
        if line.startswith("CHECKSUMS "):
            return {str(k): str(v) for k, v in json.loads(line.removeprefix("CHECKSUMS ")).items()}
    raise ValueError("the checksum task printed no CHECKSUMS line")


def read_checksums(
    client: docker.DockerClient, site: Site, run_id: str, log: Callable[[str], Any], guard: Any = None
) -> dict[str, str]:
    """{addon: sha256} of every addon under the site's addons path, in its pinned image."""
    task = render_checksum_task(spec_for(site), run_id)
    with one_off_guard(guard, task.name):
        code, lines = ops.run_one_off(client, task, DEADLINE_S, lambda _line: None)
    if code != 0:
        raise RuntimeError("computing the addon checksums failed: " + " ".join(lines[-3:]))
    checksums = parse_checksums(lines)
    log(f"checksums of {len(checksums)} addons under {', '.join(task.args[1:])}")
    return checksums


def changed_modules(site: Site, current: dict[str, str]) -> Changed:
    """Installed modules (as last read) whose code on disk differs from their last update.
    `current`: read_checksums() of the image the site runs now."""
    installed = {n for n, (state, _) in site.installed_modules.items() if state == "installed"}
    stored = site.module_checksums or {}
    on_path = sorted(installed & set(current))
    return Changed(
        changed=[n for n in on_path if n in stored and stored[n] != current[n]],
        unknown=[n for n in on_path if n not in stored],
    )


def record_checksums(site: Site, current: dict[str, str], updated: Iterable[str]) -> dict[str, str]:
    """After a successful update: the updated modules now run the code hashed in `current`.
    Modules not updated keep their old baseline (their change, if any, is still pending)."""
    stored = dict(site.module_checksums or {})
    stored.update({n: current[n] for n in updated if n in current})
    Site.objects.filter(pk=site.pk).update(module_checksums=stored)
    site.module_checksums = stored
    return stored
