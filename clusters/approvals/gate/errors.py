"""Errors of the approval gate.

Every refusal names the file it is about and says why in words an operator can act on: the gate is fed
untrusted uploads, so "bad input" must never surface as a traceback (or as exit 1, which means "blocked").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileError:
    """One problem with one file; kept as data so a view can list them all."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class GateError(Exception):
    """Bad input: the gate cannot give a verdict (the CLI exits 2, the HTTP endpoint answers 400)."""

    def __init__(self, message: str, errors: list[FileError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors: list[FileError] = errors or []

    def __str__(self) -> str:
        if not self.errors:
            return self.message
        lines = [self.message, *(f"  {e}" for e in self.errors[:50])]
        if len(self.errors) > 50:
            lines.append(f"  ... and {len(self.errors) - 50} more")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {"error": self.message, "errors": [e.as_dict() for e in self.errors]}


class ManifestError(GateError):
    """A `__manifest__.py` that is not a plain, bounded dict literal."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}", [FileError(path, message)])
        self.path = path
        self.reason = message

    def __str__(self) -> str:
        return self.message


class ArchiveError(GateError):
    """An uploaded archive refused before or while unpacking."""

    def __init__(self, message: str, member: str = "") -> None:
        text = f"{member}: {message}" if member else message
        super().__init__(text, [FileError(member, message)] if member else [])
        self.member = member
        self.reason = message

    def __str__(self) -> str:
        return self.message
