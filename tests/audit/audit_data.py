"""Test decisions and raw-SQL access to a store's tables (to tamper with them)."""

from __future__ import annotations

import sqlite3

import psycopg

from gatekeeper.audit import AuditRecord
from gatekeeper.types.decision import DecidedModel, Decision, ObjectRef, Violation


def decision(
    i: int = 0,
    *,
    model: str = "credit-scoring",
    version: str = "3",
    allowed: bool = True,
    violations: int = 0,
    warnings: tuple[str, ...] = (),
    error: str | None = None,
) -> Decision:
    return Decision(
        object=ObjectRef(
            apiVersion="serving.kserve.io/v1beta1", kind="InferenceService", namespace="lending", name=f"svc-{i}"
        ),
        environment="production",
        allowed=allowed,
        enforcement="deny",
        operation="CREATE",
        models=[DecidedModel(ref=f"models:/{model}/{version}", name=model, version=version, risk_class="high")],
        violations=[
            Violation(
                requirement="fairness.demographic_parity_ratio",
                model=model,
                version=version,
                message=f"demographic parity ratio for 'sex' is 0.6{n}, below 0.80",
                observed=0.62,
                threshold=0.8,
            )
            for n in range(violations)
        ],
        warnings=list(warnings),
        policy_revision="sha256:policy",
        decision_id=f"decision-{i}",
        evidence_digest="sha256:evidence",
        error=error,
    )


def record(i: int = 0, **kwargs) -> AuditRecord:  # type: ignore[no-untyped-def]
    return AuditRecord.from_decision(decision(i, **kwargs), request_uid=f"uid-{i}", user="alice", dry_run=False,
                                     source="webhook")


def raw_sql(url: str, *statements: str) -> None:
    """Run statements straight against the store's database, as a tamperer would."""
    if url.startswith("postgresql://"):
        with psycopg.connect(url, autocommit=True) as conn:
            for sql in statements:
                conn.execute(sql)
        return
    con = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()


def raw_rows(url: str, query: str) -> list[tuple]:
    """Rows straight from the store's database."""
    if url.startswith("postgresql://"):
        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute(query).fetchall()
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()
