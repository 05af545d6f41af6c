"""The one error of the signing modules: statements.py and trust.py both raise it, so it
lives beside them rather than in either (neither imports the other's caller)."""


class SigningError(ValueError):
    """A key or statement that cannot be used; the message says which and why."""
