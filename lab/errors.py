"""The one exception the lab raises: its message says what to do next."""


class LabError(RuntimeError):
    """Something the lab cannot fix by itself (not root, engine not installed, a deadline passed)."""
