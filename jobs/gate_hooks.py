"""What the module update asks the approval gate. (Until manifest changes exist, nothing is blocked.)"""

from typing import Any


def unapproved_changes(site: Any, modules: tuple[str, ...]) -> list[str]:
    return []
