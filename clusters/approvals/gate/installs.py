"""What installing some modules drags in: Odoo installs every auto_install addon whose depends (or
the ones its auto_install lists) become installed, again and again until nothing more qualifies.

Odoo 19's `-u X`, when X's new manifest depends on a module that is on the addons path but not
installed, installs that module and all that follows it this way, and exits 0 (13 modules for
`mail` on a real 19.0). The gate names them before anyone runs the update.
"""

from __future__ import annotations

from collections.abc import Iterable

from clusters.approvals.gate.addons import AddonsIndex


def auto_installed(index: AddonsIndex, installed: Iterable[str], new: Iterable[str]) -> list[str]:
    """The auto_install addons that installing `new` on top of `installed` also installs, sorted."""
    present = set(installed) | set(new)
    followers: set[str] = set()
    grew = True
    while grew:
        grew = False
        for name, addon in index.installable().items():
            if name in present or not addon.auto_install:
                continue
            needed = addon.depends if isinstance(addon.auto_install, bool) else addon.auto_install
            if set(needed) <= present:
                present.add(name)
                followers.add(name)
                grew = True
    return sorted(followers)


def install_note(modules: list[str], followers: list[str]) -> str:
    """`-u would install: mail, and 12 auto-install modules (a, b, ...)`."""
    text = "`-u` would install: " + ", ".join(modules)
    if followers:
        shown = ", ".join(followers[:10]) + (", ..." if len(followers) > 10 else "")
        text += f", and {len(followers)} auto-install module{'s' if len(followers) > 1 else ''} ({shown})"
    return text
