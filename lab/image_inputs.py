"""What goes into a lab image: its lab/images/<name>/image.json, the files beside it, and their hash.

Every image is tagged with one content hash of all its inputs (the rootfs key and every file under
lab/images/), so editing anything there rebuilds on the next `up`, and nothing is rebuilt otherwise.
A build context puts the files where image.json says and adds a generated Dockerfile: COPY plus
ENTRYPOINT/CMD/ENV on the shared base image.
"""

import hashlib
import json
import shutil
import stat
from pathlib import Path
from typing import Any

from lab import config, image_extras
from lab.errors import LabError
from lab.rootfs import rootfs_key

# Bump when the way lab images are assembled from lab/images/ changes.
BUILDER_VERSION = "4"
SPEC_KEYS = {
    "copy",
    "links",
    "mkdir",
    "owned",
    "entrypoint",
    "cmd",
    "runs_on",
    "env",
    "expose",
    "workdir",
    "user",
    "comment",
    "debian",  # image_extras: the image's own Debian base
    "unpack",
    "wheels",
}
SKIP_NAMES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
# Used only while lab/images/odoo/odoo (owned by the stand-in's author) does not exist yet.
PLACEHOLDER_ODOO = """#!/usr/bin/python3
# Placeholder written by lab/image_inputs.py: the real stand-in is lab/images/odoo/odoo.
import http.server, sys
if "--version" in sys.argv:
    print("Odoo Server 17.0 (lab placeholder)")
    sys.exit(0)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
http.server.ThreadingHTTPServer(("", 8069), H).serve_forever()
"""


def image_names(images_dir: Path = config.IMAGES_DIR) -> list[str]:
    """Every directory of lab/images/ that has an image.json is an image."""
    return sorted(p.parent.name for p in images_dir.glob("*/image.json"))


def read_spec(images_dir: Path, name: str) -> dict[str, Any]:
    path = images_dir / name / "image.json"
    try:
        spec = json.loads(path.read_text())
    except ValueError as exc:
        raise LabError(f"{path}: {exc}") from exc
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise LabError(f"{path}: unknown keys {sorted(unknown)}")
    return spec


def _input_files(images_dir: Path) -> list[Path]:
    files = []
    for path in sorted(images_dir.rglob("*")):
        rel = path.relative_to(images_dir)
        if SKIP_NAMES & set(rel.parts) or path.suffix in {".pyc", ".swp"} or path.name.endswith("~"):
            continue
        if path.is_symlink() or path.is_file():
            files.append(path)
    return files


def content_hash(images_dir: Path = config.IMAGES_DIR) -> str:
    """Tag for every lab image: changes whenever the rootfs recipe or any file under lab/images/ does."""
    digest = hashlib.sha256(f"{rootfs_key()}:{BUILDER_VERSION}\n".encode())
    for path in _input_files(images_dir):
        rel = path.relative_to(images_dir).as_posix()
        if path.is_symlink():
            digest.update(f"L {rel} {path.readlink()}\n".encode())
            continue
        executable = bool(path.stat().st_mode & stat.S_IXUSR)
        digest.update(f"F {rel} {int(executable)} {path.stat().st_size}\n".encode())
        digest.update(path.read_bytes())
    for name in image_names(images_dir):
        for line in image_extras.hash_lines(read_spec(images_dir, name)):
            digest.update(f"{name} {line}\n".encode())
    return digest.hexdigest()[:20]


def _copy_into(src: Path, dest: Path) -> None:
    if src.is_dir():
        shutil.copytree(
            src,
            dest,
            symlinks=True,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("image.json", "*.pyc", *SKIP_NAMES),
        )
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)


def write_context(images_dir: Path, name: str, base: str, tag: str, ctx: Path) -> None:
    """A build context: root/ mirrors the files' places in the image, then a generated Dockerfile."""
    spec = read_spec(images_dir, name)
    src_dir = images_dir / name
    root = ctx / "root"
    root.mkdir()
    for src, dest in spec.get("copy", {}).items():
        _copy_into(src_dir / src, root / dest.lstrip("/"))
    image_extras.unpack_into(spec, root)
    image_extras.wheels_into(spec, root)
    if name == "odoo" and not (src_dir / "odoo").exists():
        placeholder = root / "opt/odoo/odoo"
        placeholder.parent.mkdir(parents=True, exist_ok=True)
        placeholder.write_text(PLACEHOLDER_ODOO)
        placeholder.chmod(0o755)
    for folder in spec.get("mkdir", []):
        (root / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for link, target in spec.get("links", {}).items():
        path = root / link.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
        # A link put on PATH names a command: make sure its target can be executed.
        inside = root / target.lstrip("/")
        if inside.is_file():
            inside.chmod(inside.stat().st_mode | 0o755)
    lines = [f"FROM {base}", "COPY root/ /"]
    lines += [f"ENV {key}={json.dumps(str(value))}" for key, value in spec.get("env", {}).items()]
    # Folders a non-root user must own, as official images prepare their volume paths (a named
    # volume mounted there starts with the folder's owner).
    for path, user in spec.get("owned", {}).items():
        lines.append(f"RUN mkdir -p {path} && chown {user}:{user} {path}")
    if "workdir" in spec:
        lines.append(f"WORKDIR {spec['workdir']}")
    if "user" in spec:
        lines.append(f"USER {spec['user']}")
    lines += [f"EXPOSE {port}" for port in spec.get("expose", [])]
    lines.append(f"ENTRYPOINT {json.dumps(spec.get('entrypoint', []))}")
    lines.append(f"CMD {json.dumps(spec.get('cmd', []))}")
    lines.append(f'LABEL org.oplab.image="{name}" org.oplab.hash="{tag}"')
    (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")
