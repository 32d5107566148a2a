"""Judge an `odoo -u` run, or a plain boot, by its exit code AND its log.

Odoo exits 0 when modules are silently left out: unmet dependencies, modules not installable,
invalid names, modules left in `to upgrade`, and (19) an update that installs modules nobody asked
for. So the log decides as much as the exit code:

    exit != 0 + CRITICAL "Failed to initialize database"  -> failed (a module raised)
    CRITICAL "Couldn't load module X" (19)                  -> failed, X named
    UserError "You try to upgrade the module X that depends on the module: Y." (19, exit 255)
    "module X: Unmet dependencies: a, b" (INFO in 17!)     -> failed: X and all above it vanished
    "module X: some depends are not loaded, skipped" (19)  -> failed
    "Some modules are not loaded, ...: [...]"              -> failed, the list names them
    "Some modules have inconsistent states, ...: [...]"    -> failed
    "invalid module names, ignored: X"                     -> failed (a typo updated nothing)
    "module X: not installable, skipped"                   -> failed
    "The module X has an incompatible version, setting installable=False" -> failed (19)
    a request answered 5xx (HTTP mode)                     -> failed
    "... is a security risk, aborting." / "error: no such option" -> failed (Odoo refused to start)
With the modules asked for (`-u a,b`), an update also fails when one of them was not updated (19
ignores `-u` of a module that is not installed, and logs nothing) or when the log shows modules
being installed that nobody asked for (19 installs a new dependency found on the addons path, and
every auto-install module that follows it, and exits 0).
Match the text, not the level: the level of the unmet-dependencies line changed across versions.
"""

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MODES = ("update", "boot")

_LINE = re.compile(
    r"^\S+ \S+ (?P<pid>\d+) (?P<level>[A-Z]+) (?P<db>\S+) (?P<logger>[\w.]+): (?P<message>.*)$"
)
_UNMET = re.compile(r"module (?P<module>[\w.]+): Unmet dependencies: (?P<deps>.*)$")
_SKIPPED_19 = re.compile(
    r"module (?P<module>[\w.]+): "
    r"(?:some depends are not loaded|its direct/indirect dependency is skipped|in a dependency loop), skipped"
)
_NOT_INSTALLABLE = re.compile(r"module (?P<module>[\w.]+): not installable, skipped")
_INCOMPATIBLE = re.compile(
    r"The module (?P<module>[\w.]+) has an incompatible version, setting installable=False"
)
_LIST = re.compile(
    r"(?P<what>Some modules are not loaded, some dependencies or manifest may be missing"
    r"|Some modules have inconsistent states, some dependencies may be missing): (?P<list>\[.*\])"
)
_INVALID = re.compile(r"invalid module names, ignored: (?P<names>.*)$")
_FATAL = re.compile(r"Failed to initialize database")
_COULD_NOT_LOAD = re.compile(r"Couldn't load module (?P<module>[\w.]+)")
_UPGRADE_MISSING = re.compile(
    r"You try to upgrade the module (?P<module>[\w.]+) that depends on the module: (?P<dep>[\w.]+)\."
)
# Searched in the raw line (as the checksum reader does), so a prefix added by a log driver does not hide it.
_LOADING = re.compile(r" INFO \S+ odoo\.modules\.loading: Loading module (?P<module>[\w.]+) \(\d+/\d+\)")
_REQUEST_5XX = re.compile(r'"(?P<request>[A-Z]+ \S+) HTTP/[\d.]+" (?P<status>5\d\d) ')
# Lines Odoo prints unformatted when it refuses to start (pguser.log; an unknown option, exit 2).
_REFUSED = re.compile(r"is a security risk, aborting\.|: error: |^Error: ")
_EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Warning|Exit)): (?P<text>.*)$")


@dataclass
class Verdict:
    ok: bool
    exit_code: int | None
    reasons: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)  # modules Odoo left out of the registry
    unmet: dict[str, list[str]] = field(default_factory=dict)  # module -> missing dependencies
    error_lines: list[str] = field(default_factory=list)  # ERROR/CRITICAL first, for the job page
    loaded: bool = False  # "Modules loaded." seen
    installed: list[str] = field(default_factory=list)  # installed though nobody asked for them
    failed_modules: list[str] = field(default_factory=list)  # raised, or refused by `-u`
    updated: list[str] = field(default_factory=list)  # "Loading module X" at INFO: installed or updated

    @property
    def skipped(self) -> list[str]:
        return self.vanished

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "reasons": self.reasons,
            "vanished": self.vanished,
            "unmet": self.unmet,
            "error_lines": self.error_lines[:50],
            "loaded": self.loaded,
            "installed": self.installed,
            "failed_modules": self.failed_modules,
        }

    def contract(self) -> dict:
        """`manage.py odoo-log judge --json`: the stable contract (README, Commands)."""
        return {
            "ok": self.ok,
            "reasons": self.reasons,
            "skipped": self.skipped,
            "installed": self.installed,
            "failed_modules": self.failed_modules,
        }


def _names(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return re.findall(r"[\w.]+", text)
    return [str(v) for v in value] if isinstance(value, list | tuple | set) else [str(value)]


def updated_modules(lines: Iterable[str]) -> set[str]:
    """The modules an `odoo -u/-i` run installed or updated: its INFO "Loading module X (i/N)" lines
    (only modules being installed or updated log it at INFO)."""
    return {m["module"] for line in lines if (m := _LOADING.search(line))}


@dataclass
class _Reading:
    """What one pass over the log has gathered so far; `line()` takes the lines in order."""

    verdict: Verdict
    vanished: dict[str, None] = field(default_factory=dict)
    failed: dict[str, None] = field(default_factory=dict)
    loads: dict[str, None] = field(default_factory=dict)
    invalid: set[str] = field(default_factory=set)
    requests_5xx: dict[str, int] = field(default_factory=dict)
    exceptions: dict[str, None] = field(default_factory=dict)
    in_traceback: bool = False

    def line(self, raw: str) -> None:
        verdict = self.verdict
        parsed = _LINE.match(raw.strip())
        level, message = (parsed["level"], parsed["message"]) if parsed else ("", raw.strip())
        if parsed:
            self.in_traceback = False
        elif raw.startswith("Traceback (most recent call last)"):
            self.in_traceback = True
        elif self.in_traceback and _EXCEPTION.match(raw.rstrip()):
            self.exceptions[raw.strip()] = None
            verdict.error_lines.append(raw.rstrip())
            self.in_traceback = False
        if level in ("ERROR", "CRITICAL") or _FATAL.search(message):
            verdict.error_lines.append(raw.rstrip())
        if message.startswith("Modules loaded."):
            verdict.loaded = True
        if m := _LOADING.search(raw):
            self.loads[m["module"]] = None
        if not self._module_problem(message):
            self._other(message, parsed is not None)

    def _module_problem(self, message: str) -> bool:
        """A line that names a module Odoo skipped, dropped or failed to load; False if not one."""
        reasons = self.verdict.reasons
        if m := _UNMET.search(message):
            deps = [d.strip() for d in m["deps"].split(",") if d.strip()]
            self.verdict.unmet[m["module"]] = deps
            self.vanished[m["module"]] = None
            reasons.append(f"{m['module']} has unmet dependencies: {', '.join(deps)}")
        elif m := _SKIPPED_19.search(message):
            self.vanished[m["module"]] = None
            reasons.append(f"{m['module']} was skipped: {message.split(': ', 1)[-1]}")
        elif m := _NOT_INSTALLABLE.search(message):
            self.vanished[m["module"]] = None
            reasons.append(f"{m['module']} is not installable and was skipped")
        elif m := _INCOMPATIBLE.search(message):
            self.vanished[m["module"]] = None
            reasons.append(
                f"{m['module']} has an incompatible version (not made for this Odoo series): "
                "Odoo set it not installable"
            )
        elif m := _LIST.search(message):
            names = _names(m["list"])
            self.vanished.update(dict.fromkeys(names))
            reasons.append(f"{m['what']}: {', '.join(names)}")
        elif m := _INVALID.search(message):
            self.invalid.update(n.strip() for n in m["names"].split(","))
            reasons.append(f"invalid module names were ignored (nothing updated for them): {m['names']}")
        elif m := _COULD_NOT_LOAD.search(message):
            self.failed[m["module"]] = None
            reasons.append(f"{m['module']} could not be loaded (its code raised)")
        elif m := _UPGRADE_MISSING.search(message):
            self.failed[m["module"]] = None
            self.verdict.unmet.setdefault(m["module"], []).append(m["dep"])
            reasons.append(
                f"{m['module']} depends on {m['dep']}, which is not available in the system "
                "(odoo -u refused to update it)"
            )
        else:
            return False
        return True

    def _other(self, message: str, parsed: bool) -> None:
        """A fatal line, a request answered 5xx, or Odoo refusing its command line."""
        if _FATAL.search(message):
            self.verdict.reasons.append(message)
        elif m := _REQUEST_5XX.search(message):
            key = f"{m['request']} {m['status']}"
            self.requests_5xx[key] = self.requests_5xx.get(key, 0) + 1
        elif not parsed and not self.in_traceback and _REFUSED.search(message):
            self.verdict.reasons.append(f"odoo refused to start: {message}")

    def summed_up(self) -> Verdict:
        """The verdict with the totals that need the whole log."""
        verdict = self.verdict
        if self.requests_5xx:
            count = sum(self.requests_5xx.values())
            verdict.reasons.append(
                f"{count} request{'s' if count > 1 else ''} answered with a server error: "
                + ", ".join(self.requests_5xx)
            )
        raised = [e for e in self.exceptions if not _UPGRADE_MISSING.search(e)]
        if raised and self.failed:
            verdict.reasons.append(f"the error: {' / '.join(raised)}")
        verdict.vanished = list(self.vanished)
        verdict.failed_modules = list(self.failed)
        verdict.updated = list(self.loads)
        return verdict


def judge(
    exit_code: int | None,
    lines: list[str],
    *,
    mode: str = "update",
    modules: Iterable[str] | None = None,
    installed_before: Iterable[str] | None = None,
) -> Verdict:
    """`mode`: "update" (`-u`/`-i`, or any run that may install) or "boot" (no `-u`/`-i`).
    `modules`: the modules asked for with `-u` (update mode); None skips the two checks that need
    them. `installed_before`: the modules installed before the run, when known (the panel reads
    them): then every module loaded for update that was neither installed nor asked for is named as
    installed; without it, only those the log proves were installed (loaded before any asked module:
    a module that depends on an asked one always loads after it, a new dependency always before)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    reading = _Reading(Verdict(ok=False, exit_code=exit_code))
    for raw in lines:
        reading.line(raw)
    verdict = reading.summed_up()
    if mode == "update" and modules is not None:
        _check_asked(
            verdict, exit_code, list(modules), list(reading.loads), reading.invalid, installed_before
        )
    if mode == "boot" and exit_code == 0 and not verdict.loaded:
        verdict.reasons.append("the registry never loaded (no `Modules loaded.` line)")
    if exit_code is None:
        verdict.reasons.insert(0, "the update task ended without an exit code")
    elif exit_code != 0:
        verdict.reasons.insert(0, f"odoo exited with status {exit_code}")
    verdict.ok = exit_code == 0 and not verdict.reasons
    return verdict


def _check_asked(
    verdict: Verdict,
    exit_code: int | None,
    modules: list[str],
    loads: list[str],
    invalid: set[str],
    installed_before: Iterable[str] | None,
) -> None:
    """An update keeps its promise: every asked module updated, nothing installed unasked."""
    asked = {"base" if m == "all" else m for m in modules}
    if installed_before is not None:
        before = set(installed_before)
        verdict.installed = [m for m in loads if m not in asked and m not in before]
    elif "base" not in asked:  # with base, every module may be an updated dependent: nothing is proof
        first = next((i for i, m in enumerate(loads) if m in asked), len(loads))
        verdict.installed = [m for m in loads[:first] if m not in asked]
    if verdict.installed:
        also = [m for m in loads if m not in asked and m not in verdict.installed]
        verdict.reasons.append(
            f"odoo -u installed {len(verdict.installed)} module{'s' if len(verdict.installed) > 1 else ''} "
            f"nobody asked for: {', '.join(verdict.installed)}"
            + (
                f" (also loaded for update or install without being asked: {', '.join(also)})"
                if also and installed_before is None
                else ""
            )
        )
    if exit_code == 0:
        missed = sorted(asked - set(loads) - invalid)
        if missed:
            verdict.reasons.append(
                f"not updated: {', '.join(missed)} (odoo -u silently ignores a module that is not installed)"
            )
