"""A user's site image on the lab's real Odoo 19: the way a user builds one (their addons copied into
/mnt/extra-addons of the Odoo image), pushed to the lab registry under the site's own tag.

The user's addon is lab/images/odoo19-real/user_addons/lab_note (one model, one record: a real
addon that installs and updates on real Odoo). The real-Odoo tests and `bench/module_update.py
--real` build their images here; a test's variant replaces some of its files (a new manifest, data
that fails).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import docker

from lab import config

USER_ADDONS = config.IMAGES_DIR / "odoo19-real" / "user_addons"
SKIP = {"__pycache__"}


def addon_files(overrides: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """The user's addons as build-context files (`addons/<addon>/...`), with `overrides` by path."""
    files: dict[str, bytes] = {}
    for path in sorted(USER_ADDONS.rglob("*")):
        if path.is_file() and not SKIP & set(path.parts):
            files[f"addons/{path.relative_to(USER_ADDONS).as_posix()}"] = path.read_bytes()
    return {**files, **(overrides or {})}


def build_from(
    client: docker.DockerClient, base: str, tag: str, lines: list[str], files: dict[str, bytes] | None = None
) -> str:
    """An image FROM `base` (present on the host engine) with Dockerfile `lines` and build-context
    `files`, pushed as `tag`; returns its digest at the registry."""
    dockerfile = "\n".join([f"FROM {base}", *lines]).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in {"Dockerfile": dockerfile, **(files or {})}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    client.images.build(fileobj=buf, custom_context=True, tag=tag, pull=False, rm=True)
    repo, _, name = tag.rpartition(":")
    for _ in client.images.push(repo, tag=name, stream=True, decode=True):
        pass
    return str(client.images.get_registry_data(tag).id)


def push_site_image(
    client: docker.DockerClient, real_odoo: str, tag: str, overrides: dict[str, bytes] | None = None
) -> str:
    """The user's site image on `real_odoo` (the lab's odoo19-real ref), pushed as `tag`; its digest."""
    return build_from(client, real_odoo, tag, ["COPY addons/ /mnt/extra-addons/"], addon_files(overrides))


def user_addon_text(relative: str) -> str:
    """A file of the user's addons, e.g. "lab_note/__manifest__.py"."""
    return Path(USER_ADDONS / relative).read_text()
