"""The decision log: every decision, hash-chained, in SQLite or PostgreSQL (README "The webhook")."""

from gatekeeper.audit.chain import VerifyResult
from gatekeeper.audit.errors import AuditStoreError
from gatekeeper.audit.record import AuditRecord
from gatekeeper.audit.store import AuditStore, open_store

__all__ = ["AuditRecord", "AuditStore", "AuditStoreError", "VerifyResult", "open_store"]
