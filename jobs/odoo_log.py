"""Judge an `odoo -u` run by its exit code AND its log (facts sheet §1 and §4).

Odoo exits 0 when modules are silently left out: unmet dependencies, modules not installable,
invalid names, modules left in `to upgrade`. So the log decides as much as the exit code:

    exit 255 + CRITICAL "Failed to initialize database"   -> failed (a module raised)
    "module X: Unmet dependencies: a, b" (INFO in 17!)     -> failed: X and all above it vanished
    "module X: some depends are not loaded, skipped" (19)  -> failed
    "Some modules are not loaded, ...: [...]"              -> failed, the list names them
    "Some modules have inconsistent states, ...: [...]"    -> failed
    "invalid module names, ignored: X"                     -> failed (a typo updated nothing)
    "module X: not installable, skipped"                   -> failed
Match the text, not the level: the level of the unmet-dependencies line changed across versions.
"""

import ast
import re
from dataclasses import dataclass, field

_LINE = re.compile(
    r"^\S+ \S+ (?P<pid>\d+) (?P<level>[A-Z]+) (?P<db>\S+) (?P<logger>[\w.]+): (?P<message>.*)$"
)
_UNMET = re.compile(r"module (?P<module>[\w.]+): Unmet dependencies: (?P<deps>.*)$")
_SKIPPED_19 = re.compile(
    r"module (?P<module>[\w.]+): "
    r"(?:some depends are not loaded|its (?:direct|indirect) dependency is skipped), skipped"
)
_NOT_INSTALLABLE = re.compile(r"module (?P<module>[\w.]+): not installable, skipped")
_LIST = re.compile(
    r"(?P<what>Some modules are not loaded, some dependencies or manifest may be missing"
    r"|Some modules have inconsistent states, some dependencies may be missing): (?P<list>\[.*\])"
)
_INVALID = re.compile(r"invalid module names, ignored: (?P<names>.*)$")
_FATAL = re.compile(r"Failed to initialize database")


@dataclass
class Verdict:
    ok: bool
    exit_code: int | None
    reasons: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)  # modules Odoo left out of the registry
    unmet: dict[str, list[str]] = field(default_factory=dict)  # module -> missing dependencies
    error_lines: list[str] = field(default_factory=list)  # ERROR/CRITICAL first, for the job page
    loaded: bool = False  # "Modules loaded." seen

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "reasons": self.reasons,
            "vanished": self.vanished,
            "unmet": self.unmet,
            "error_lines": self.error_lines[:50],
            "loaded": self.loaded,
        }


def _names(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return re.findall(r"[\w.]+", text)
    return [str(v) for v in value] if isinstance(value, list | tuple | set) else [str(value)]


def judge(exit_code: int | None, lines: list[str]) -> Verdict:
    verdict = Verdict(ok=False, exit_code=exit_code)
    vanished: dict[str, None] = {}
    for raw in lines:
        parsed = _LINE.match(raw.strip())
        level, message = (parsed["level"], parsed["message"]) if parsed else ("", raw.strip())
        if level in ("ERROR", "CRITICAL") or _FATAL.search(message):
            verdict.error_lines.append(raw.rstrip())
        if message.startswith("Modules loaded."):
            verdict.loaded = True
        if m := _UNMET.search(message):
            deps = [d.strip() for d in m["deps"].split(",") if d.strip()]
            verdict.unmet[m["module"]] = deps
            vanished[m["module"]] = None
            verdict.reasons.append(f"{m['module']} has unmet dependencies: {', '.join(deps)}")
        elif m := _SKIPPED_19.search(message):
            vanished[m["module"]] = None
            verdict.reasons.append(f"{m['module']} was skipped: {message.split(': ', 1)[-1]}")
        elif m := _NOT_INSTALLABLE.search(message):
            vanished[m["module"]] = None
            verdict.reasons.append(f"{m['module']} is not installable and was skipped")
        elif m := _LIST.search(message):
            names = _names(m["list"])
            vanished.update(dict.fromkeys(names))
            verdict.reasons.append(f"{m['what']}: {', '.join(names)}")
        elif m := _INVALID.search(message):
            verdict.reasons.append(
                f"invalid module names were ignored (nothing updated for them): {m['names']}"
            )
        elif _FATAL.search(message):
            verdict.reasons.append(message)
    verdict.vanished = list(vanished)
    if exit_code is None:
        verdict.reasons.insert(0, "the update task ended without an exit code")
    elif exit_code != 0:
        verdict.reasons.insert(0, f"odoo exited with status {exit_code}")
    verdict.ok = exit_code == 0 and not verdict.reasons
    return verdict
