"""What an approval binds to: one image digest and the fingerprint of the manifests it judged.

Four eyes mean little if the code that runs is not the code that was judged. So an approval (or an
override) records the image digest it was given for and a fingerprint of the manifests of the
addons its change covers: a sha256 over the sorted (addon name, sha256 of the manifest file's bytes)
pairs. A module update or a deploy on another digest, or on an image whose manifests for those
addons differ in one byte, is not covered: it needs its own decision. Pure functions: the models,
the update and the deploy bring the facts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

PREFIX = "sha256:"


def manifest_fingerprint(hashes: Mapping[str, str]) -> str:
    """ "sha256:<hex>" over the sorted "name sha256" lines of the addons; an addon that is absent
    (hash "") counts as such, so that dropping a manifest changes the fingerprint too."""
    lines = "".join(f"{name} {hashes[name] or '-'}\n" for name in sorted(hashes))
    return PREFIX + hashlib.sha256(lines.encode()).hexdigest()


def short(value: str) -> str:
    """A digest or fingerprint as people compare them: its algorithm and first 12 hex digits."""
    if not value:
        return "none"
    algo, _, hexa = value.partition(":")
    return f"{algo}:{hexa[:12]}" if hexa else value[:19]


@dataclass(frozen=True)
class Binding:
    """What one decision covers: the digest and the fingerprint, and each addon's manifest hash."""

    digest: str
    fingerprint: str
    hashes: Mapping[str, str]


def uncovered(binding: Binding, digest: str, found: Mapping[str, str] | None) -> str:
    """Why `binding` does not cover a run on `digest` whose image holds the manifest hashes `found`
    (None: not read, because the digests already differ); "" when it covers it."""
    if not binding.digest:
        return (
            "it was decided before approvals were bound to an image, or on a site with no image, so it "
            f"covers no image; this run is on {digest}"
        )
    if binding.digest != digest:
        return f"it was decided on image {binding.digest}; this run is on image {digest}"
    if not binding.fingerprint:
        return "its manifests were stored before they were hashed, so what was judged is unknown"
    if found is None:
        return ""
    on_image = {name: found.get(name, "") for name in binding.hashes}
    if manifest_fingerprint(on_image) == binding.fingerprint:
        return ""
    differ = sorted(name for name in binding.hashes if on_image[name] != binding.hashes[name])
    names = ", ".join(differ) or "its addons"
    return (
        f"image {digest} carries other manifests than the ones judged for {names} "
        f"(fingerprint {short(manifest_fingerprint(on_image))}, judged {short(binding.fingerprint)})"
    )
