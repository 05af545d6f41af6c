"""The one error the audit store raises, always naming the store it is about."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


class AuditStoreError(Exception):
    """The audit store cannot do what was asked; the message says which store and why."""

    def __init__(self, store: str, reason: str) -> None:
        super().__init__(f"audit store {store}: {reason}")
        self.store = store
        self.reason = reason


def display_url(url: str) -> str:
    """The URL as it may be shown in messages and logs: without a password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def reason_of(exc: BaseException) -> str:
    """A one-line reason from a driver exception (psycopg messages span several lines)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
