"""Does the image carry what `--load` names? Read from the image itself, before a deploy changes anything.

Odoo loads server-wide modules (`--load`) from the addons path at start. One the image lacks, or one
written for another Odoo series, is no warning on Odoo 19: its asset loader treats server-wide
modules as installed, and every page answers 500 while /web/health stays green (seen on a real 19
site with session_redis in `--load` and no such addon in the image; camptocamp's 18.0 session_redis
on 19 does the same). So the panel trusts no name: a one-off task with the site's pinned digest
prints the manifest of each server-wide module it finds on the site's addons path (first path that
holds it wins, as in Odoo), and the panel parses them as literals (nothing is executed).

Odoo's own server-wide modules (base, web, rpc) ship in its core addons and are not looked for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

import docker

from clusters import swarm_ops as ops
from clusters.approvals.gate.errors import ManifestError
from clusters.approvals.gate.manifest import parse_manifest
from clusters.sites.checksums import DEFAULT_ADDONS_PATH
from clusters.stack import SiteSpec
from clusters.stack.render import ServiceSpec, render_image_task

CORE_SERVER_WIDE = frozenset({"base", "web", "rpc"})
VERSION_RE = re.compile(r"\bOdoo Server (?:saas~)?(\d{1,2}\.\d)")
DEADLINE_S = 120
MAX_BYTES = 256 * 1024

# argv[1]: JSON list of module names; argv[2:]: addons paths. Prints one line
# `MANIFESTS {"module": "<manifest text>" | null, ...}`; files are read as text, never imported. Then
# `IDENTITY {"uid", "gid", "version"}`: who the image runs as and what its `odoo --version` says.
SCRIPT = r"""
import json, os, subprocess, sys
found = {}
for name in json.loads(sys.argv[1]):
    found[name] = None
    for root in sys.argv[2:]:
        path = os.path.join(root, name, "__manifest__.py")
        if os.path.isfile(path):
            with open(path, "rb") as f:
                found[name] = f.read(MAX_BYTES).decode("utf-8", "replace")
            break
print("MANIFESTS " + json.dumps(found, sort_keys=True))
try:
    out = subprocess.run(["odoo", "--version"], capture_output=True, timeout=90).stdout
    version = out.decode("utf-8", "replace").strip().splitlines()[-1][:200]
except Exception as exc:
    version = None
print("IDENTITY " + json.dumps({"uid": os.getuid(), "gid": os.getgid(), "version": version}))
""".replace("MAX_BYTES", str(MAX_BYTES + 1))


def looked_for(spec: SiteSpec) -> list[str]:
    """The server-wide modules that must come from the site's addons path."""
    return [name for name in spec.server_wide if name not in CORE_SERVER_WIDE]


def render_manifest_task(
    spec: SiteSpec, run_id: str | None = None, names: list[str] | None = None, kind: str = "manifests"
) -> ServiceSpec:
    """A one-off task with the site's pinned image that prints the manifests of `names` (by
    default the server-wide modules) as found on the site's addons path."""
    paths = spec.addons_path or DEFAULT_ADDONS_PATH
    args = [json.dumps(looked_for(spec) if names is None else names), *paths]
    # It reads the image's own files: a first deploy runs it before the site's network exists.
    return render_image_task(spec, kind, ["python3", "-c", SCRIPT], args, run_id=run_id, on_network=False)


@dataclass(frozen=True)
class ImageIdentity:
    """Who the image runs as and which Odoo it is, as the image itself says (never assumed)."""

    uid: int
    gid: int
    version: str | None  # `odoo --version`'s last line, e.g. "Odoo Server 19.0+e-20251227"

    @property
    def series(self) -> str | None:
        """19.0 of "Odoo Server 19.0+e-20251227" (saas~18.3 -> 18.3); None when no Odoo answered."""
        match = VERSION_RE.search(self.version or "")
        return match.group(1) if match else None


@dataclass(frozen=True)
class ImageRead:
    manifests: dict[str, str | None]
    identity: ImageIdentity | None


def read_image(
    client: docker.DockerClient,
    spec: SiteSpec,
    run_id: str,
    names: list[str] | None = None,
    kind: str = "manifests",
) -> ImageRead:
    """Run that task: module -> manifest text (None where the image has no such module), and the
    image's identity. ops.SwarmError("exit N: ...") when the task fails."""
    task = render_manifest_task(spec, run_id, names, kind)
    code, lines = ops.run_one_off(client, task, DEADLINE_S, ops._quiet)
    if code != 0:
        raise ops.SwarmError(f"exit {code}: {' '.join(lines[-3:])}")
    return parse_output(lines)


def parse_output(lines: Iterable[str]) -> ImageRead:
    manifests: dict[str, str | None] | None = None
    identity = None
    for line in lines:
        if line.startswith("MANIFESTS "):
            manifests = {str(k): v for k, v in json.loads(line.removeprefix("MANIFESTS ")).items()}
        elif line.startswith("IDENTITY "):
            raw = json.loads(line.removeprefix("IDENTITY "))
            version = raw.get("version")
            identity = ImageIdentity(int(raw["uid"]), int(raw["gid"]), str(version) if version else None)
    if manifests is None:
        raise ValueError("the manifest task printed no MANIFESTS line")
    return ImageRead(manifests, identity)


def series_problem(spec: SiteSpec, identity: ImageIdentity | None) -> str | None:
    """Why the image's own Odoo does not match the site's series, or None when it does."""
    if identity is None or identity.series is None:
        said = f" (it answered {identity.version!r})" if identity and identity.version else ""
        return (
            f"the image's `odoo --version` names no Odoo series{said}: is {spec.image} an Odoo image? "
            "The panel reads the series from the image and never assumes it."
        )
    if identity.series != spec.series:
        return (
            f"the image runs Odoo {identity.series} ({identity.version}), the site is set to "
            f"{spec.series}: flags, session store and addons differ between series. Set the site's "
            f"series to {identity.series} (site edit --series), or deploy an image of {spec.series}."
        )
    return None


def problems(spec: SiteSpec, manifests: dict[str, str | None]) -> list[str]:
    """Why this image cannot serve the site's `--load`, each with its fix; empty when it can."""
    paths = ", ".join(spec.addons_path or DEFAULT_ADDONS_PATH)
    found = []
    for name in looked_for(spec):
        text = manifests.get(name)
        if text is None:
            found.append(
                f"the image has no {name} addon on its addons path ({paths}): Odoo would fail to load it "
                f"and answer 500 to every page. Add the {name} addon folder for {spec.series} to the "
                "image, or choose a session store the image carries."
            )
            continue
        try:
            manifest = parse_manifest(text.encode(), f"{name}/__manifest__.py")
        except ManifestError as exc:
            found.append(f"the image's {name} manifest cannot be read: {exc}")
            continue
        if not manifest.get("installable", True):
            found.append(f"the image's {name} is marked not installable: Odoo would not load it.")
        version = str(manifest.get("version", ""))
        if (series := version_series(version)) and series != spec.series:
            found.append(
                f"the image's {name} is version {version}, written for Odoo {series}, not the site's "
                f"{spec.series}: Odoo sets it not installable and answers 500 to every page. Use its "
                f"{spec.series} release."
            )
    return found


def version_series(version: str) -> str | None:
    """The Odoo series a module version is written for: 18.0.1.2.0 -> 18.0; a version without the
    series in front (1.2.0) is taken by Odoo for its own series, so it fits any."""
    parts = version.split(".")
    return f"{parts[0]}.{parts[1]}" if len(parts) >= 5 and parts[0].isdigit() else None
