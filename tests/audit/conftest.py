"""Fixtures for the audit store tests: a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import itertools
from pathlib import Path

import psycopg
import pytest

from .audit_pg_server import PostgresServer, PostgresUnavailable

_schemas = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server():
    # Fail, never skip: a missing PostgreSQL must not turn these tests silently green.
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        pytest.fail(f"cannot start PostgreSQL for the audit tests: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_database(postgres_server: PostgresServer) -> str:
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE audit_tests")
    return postgres_server.url_for("audit_tests")


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A fresh, empty schema (cheaper than a database each: CREATE DATABASE fsyncs a copy)."""
    name = f"audit_test_{next(_schemas)}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return f"{pg_database}?options=-c%20search_path%3D{name}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'audit.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture(scope="session")
def tlogcheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Go's note and tlog packages, as a command (tests/audit/tlogcheck.py)."""
    from .tlogcheck import build

    return build(tmp_path_factory.mktemp("tlogcheck"))
