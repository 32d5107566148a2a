"""What a lab image takes from outside lab/images/: a Debian package list for its own base, a source
archive, a wheel from PyPI. The real Odoo 19 image (images/odoo19-real) is made of these.

image.json names them (keys `debian`, `unpack`, `wheels`); a `shared:<path>` is a file of the team's
shared data (config.SHARED_DIR). Each input takes part in the image tag (its bytes, or the sha256 the
spec pins for a wheel), so a new archive rebuilds the image and nothing else does. A wheel is
downloaded once into the cache and checked against its pinned sha256 before any byte of it is used.
"""

import functools
import hashlib
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lab import config
from lab.errors import LabError
from lab.proc import run
from lab.rootfs import LAB_BASE, Base

SHARED_PREFIX = "shared:"
WHEELS_DIR = config.CACHE_DIR / "wheels"


def shared_path(ref: str) -> Path:
    """`shared:odoo-19/x.tar.gz` -> that file of the shared data; a file that is missing is an error."""
    if not ref.startswith(SHARED_PREFIX):
        raise LabError(f"{ref!r}: inputs from outside lab/images must be named shared:<path>")
    rel = Path(ref.removeprefix(SHARED_PREFIX))
    if rel.is_absolute() or ".." in rel.parts:
        raise LabError(f"{ref!r}: a shared path is relative and stays inside the shared data")
    path = config.SHARED_DIR / rel
    if not path.is_file():
        raise LabError(f"{path} is missing: shared data belongs beside the checkout ({config.SHARED_DIR})")
    return path


@functools.lru_cache(maxsize=16)
def _file_sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    stat = path.stat()
    return _file_sha256(path, stat.st_size, stat.st_mtime_ns)


def base_for(spec: dict[str, Any]) -> Base:
    """The Debian base an image is built on: the lab's, or one of the packages its `debian` names."""
    debian = spec.get("debian")
    if not debian:
        return LAB_BASE
    lines = shared_path(str(debian["packages"])).read_text().splitlines()
    # `also`: what debootstrap's resolver misses (it ignores virtual packages: python3-cryptography
    # needs python3-cffi-backend-api-*, which only python3-cffi-backend provides).
    packages = [line.split("#", 1)[0].strip() for line in lines] + list(debian.get("also", []))
    return Base(packages=tuple(p for p in packages if p), odoo_uid=debian.get("odoo_uid"))


def hash_lines(spec: dict[str, Any]) -> Iterator[str]:
    """One line per outside input, for the image tag (wheels are pinned by the spec's sha256)."""
    if spec.get("debian"):
        yield f"B {base_for(spec).key}"
    for src in spec.get("unpack", {}):
        yield f"U {src} {file_sha256(shared_path(src))}"


def unpack_into(spec: dict[str, Any], root: Path) -> None:
    """Each `unpack` archive into the build context; its single top folder becomes the destination."""
    for src, dest in spec.get("unpack", {}).items():
        target = root / dest.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        run(["tar", "-xzf", str(shared_path(src)), "-C", str(target), "--strip-components=1"], timeout=300)


def _wheel(name: str, version: str, sha256: str) -> Path:
    WHEELS_DIR.mkdir(parents=True, exist_ok=True)
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    found = sorted(WHEELS_DIR.glob(pattern))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--dest", str(WHEELS_DIR), f"{name}=={version}"]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise LabError(f"pip could not download {name}=={version}: {exc}") from exc
        found = sorted(WHEELS_DIR.glob(pattern))
    if not found:
        raise LabError(f"pip downloaded no wheel matching {pattern}")
    wheel = found[0]
    actual = file_sha256(wheel)
    if actual != sha256:
        wheel.unlink()
        raise LabError(f"{wheel.name} has sha256 {actual}, the image pins {sha256}: not used")
    return wheel


def wheels_into(spec: dict[str, Any], root: Path) -> None:
    """Each `wheels` entry: the folder `take` of the pinned wheel copied to `dest` (an addon), or the
    single file `take` written as `dest` with the mode the wheel records (a program, like Traefik)."""
    for entry in spec.get("wheels", []):
        wheel = _wheel(entry["name"], entry["version"], entry["sha256"])
        take = entry["take"].rstrip("/")
        dest = root / entry["dest"].lstrip("/")
        with zipfile.ZipFile(wheel) as zf:
            files = [m for m in zf.infolist() if not m.is_dir()]
            single = [m for m in files if m.filename == take]
            members = single or [m for m in files if m.filename.startswith(take + "/")]
            if not members:
                raise LabError(f"{wheel.name} has no file or folder {take}")
            for member in members:
                rel = Path(member.filename.removeprefix(take).lstrip("/"))
                if rel.is_absolute() or ".." in rel.parts:
                    raise LabError(f"{wheel.name}: unsafe member {member.filename}")
                out = dest / rel if rel.parts else dest
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, out.open("wb") as sink:
                    shutil.copyfileobj(src, sink, 1 << 20)  # a 185 MB program: never whole in memory
                mode = (member.external_attr >> 16) & 0o777
                out.chmod(mode or 0o644)
