"""The lab's images (odoo stand-in, postgres, redis), built here and served by the lab registry.

The registry is the cache: every image is tagged with the content hash of its inputs
(lab/image_inputs.py), and nothing is built or pushed when the registry already has that tag, so a
second `up` costs three HTTP HEADs. What the registry lacks is built on the shared Debian base
(lab/rootfs.py) and pushed.
"""

import contextlib
import shutil
import tempfile
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from lab import config
from lab.errors import LabError
from lab.image_extras import base_for
from lab.image_inputs import SKIP_NAMES, content_hash, image_names, read_spec, write_context
from lab.proc import Log
from lab.rootfs import Base, ensure_base

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


@dataclass(frozen=True)
class ImageRef:
    """One lab image in the lab registry; `pinned` is what a service spec should use."""

    name: str
    repo: str  # e.g. 10.231.0.1:5000/oplab/odoo
    tag: str  # content hash of the image's inputs
    digest: str  # sha256:... as the registry reports it

    @property
    def ref(self) -> str:
        return f"{self.repo}:{self.tag}"

    @property
    def pinned(self) -> str:
        return f"{self.repo}@{self.digest}"

    @property
    def series(self) -> str:
        """The Odoo series an Odoo image runs as, for the sites on it: a stand-in's ODOO_STANDIN_SERIES,
        the real image's ODOO_VERSION (as the official image sets it)."""
        env = read_spec(config.IMAGES_DIR, self.name).get("env", {})
        return str(env.get("ODOO_STANDIN_SERIES") or env.get("ODOO_VERSION") or "17.0")


def repo_for(name: str) -> str:
    return f"{config.REGISTRY}/{config.PREFIX}/{name}"


# ---- registry -------------------------------------------------------------------------------------


def registry_digest(name: str, tag: str) -> str | None:
    """The manifest digest of oplab/<name>:<tag> in the lab registry, or None if it is not there."""
    url = f"http://{config.REGISTRY}/v2/{config.PREFIX}/{name}/manifests/{tag}"
    req = urllib.request.Request(url, method="HEAD", headers={"Accept": MANIFEST_TYPES})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - the lab's own registry
            return resp.headers.get("Docker-Content-Digest")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise LabError(f"lab registry answered {exc.code} for {url}") from exc
    except OSError as exc:
        raise LabError(f"lab registry {config.REGISTRY} does not answer ({exc}); is the lab up?") from exc


def current_refs() -> dict[str, ImageRef]:
    """The refs of the current inputs, without building: raises if the registry lacks one."""
    tag = content_hash()
    refs = {}
    for name in image_names():
        digest = registry_digest(name, tag)
        if not digest:
            raise LabError(f"{repo_for(name)}:{tag} is not in the lab registry: run `manage.py lab up`")
        refs[name] = ImageRef(name, repo_for(name), tag, digest)
    return refs


# ---- building -------------------------------------------------------------------------------------


def _stream_errors(stream: Any, what: str) -> None:
    for chunk in stream:
        if isinstance(chunk, dict) and (chunk.get("error") or chunk.get("errorDetail")):
            raise LabError(f"{what}: {chunk.get('error') or chunk.get('errorDetail')}")


def build_and_push(cli: docker.DockerClient, images_dir: Path, name: str, base: str, tag: str) -> None:
    repo = repo_for(name)
    with tempfile.TemporaryDirectory(prefix=f"oplab-{name}-") as tmp:
        write_context(images_dir, name, base, tag, Path(tmp))
        _stream_errors(
            cli.api.build(path=tmp, tag=f"{repo}:{tag}", rm=True, forcerm=True, decode=True), f"build {name}"
        )
    _stream_errors(cli.api.push(repo, tag=tag, stream=True, decode=True), f"push {repo}:{tag}")


def ensure_images(cli: docker.DockerClient, log: Log) -> dict[str, ImageRef]:
    """Build and push whatever the registry lacks for the current inputs; return every image's refs.

    lab/images/ is copied first and both the tag and the build use the copy: a file edited meanwhile
    can never end up in an image whose tag names other contents.
    """
    with tempfile.TemporaryDirectory(prefix="oplab-images-") as tmp:
        snapshot = Path(tmp) / "images"
        ignore = shutil.ignore_patterns(*SKIP_NAMES)
        shutil.copytree(config.IMAGES_DIR, snapshot, symlinks=True, ignore=ignore)
        return _ensure_images(cli, snapshot, log)


def _ensure_images(cli: docker.DockerClient, images_dir: Path, log: Log) -> dict[str, ImageRef]:
    tag = content_hash(images_dir)
    names = image_names(images_dir)
    if not names:
        raise LabError(f"no lab/images/*/image.json under {config.IMAGES_DIR}")
    refs: dict[str, ImageRef] = {}
    missing = [name for name in names if not registry_digest(name, tag)]
    bases = _ensure_bases(cli, log, {base_for(read_spec(images_dir, name)) for name in missing})
    for name in names:
        digest = registry_digest(name, tag)
        if not digest:
            base = bases[base_for(read_spec(images_dir, name))]
            log(f"images: build and push {repo_for(name)}:{tag}")
            build_and_push(cli, images_dir, name, base, tag)
            digest = registry_digest(name, tag)
            if not digest:
                raise LabError(f"pushed {repo_for(name)}:{tag} but the registry does not list it")
            _drop_old_tags(cli, name, tag)
        refs[name] = ImageRef(name, repo_for(name), tag, digest)
    return refs


def _ensure_bases(cli: docker.DockerClient, log: Log, bases: set[Base]) -> dict[Base, str]:
    """Each base image the missing images need; debootstraps run side by side (on a fresh machine
    the lab's base and real Odoo's each take minutes, mostly waiting on the mirror)."""
    with ThreadPoolExecutor(max_workers=max(1, len(bases))) as pool:
        futures = {base: pool.submit(ensure_base, cli, log, base) for base in bases}
        return {base: future.result() for base, future in futures.items()}


def _drop_old_tags(cli: docker.DockerClient, name: str, tag: str) -> None:
    """Untag the host's earlier builds of this image (the registry keeps them; only the host is tidied)."""
    repo = repo_for(name)
    for image in cli.images.list(name=repo):
        for old in image.tags:
            if old.startswith(f"{repo}:") and old != f"{repo}:{tag}":
                with contextlib.suppress(docker.errors.APIError):
                    cli.images.remove(old)
