"""Fixtures for the MLflow evidence source: a real `mlflow server`, trust data the tests hold
keys for, a real OPA on that trust data, and the CLI pointed at all three."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gatekeeper.opa.server import OpaServer

from ..conftest import CliResult, require_tool, run_cli
from .registry import DataScientist
from .server import MlflowServer
from .trust import Trust, make_trust


def running_server(workdir) -> Iterator[MlflowServer]:
    """A real MLflow tracking server (SQLite, proxied local artifacts) until the generator ends."""
    server = MlflowServer(workdir)
    try:
        try:
            server.start()
        except RuntimeError as exc:  # a missing or broken install fails the tests, never skips them
            pytest.fail(f"cannot start mlflow server: {exc}", pytrace=False)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory) -> Iterator[MlflowServer]:
    """One real MLflow tracking server for the session."""
    yield from running_server(tmp_path_factory.mktemp("mlflow"))


@pytest.fixture(scope="session")
def trust(tmp_path_factory) -> Trust:
    return make_trust(tmp_path_factory.mktemp("trust"))


@pytest.fixture(scope="session")
def trust_opa(trust: Trust) -> Iterator[str]:
    server = OpaServer(trust.policy_dir, binary=require_tool("opa"))
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def scientist(mlflow_server: MlflowServer, trust: Trust, tmp_path_factory) -> DataScientist:
    return DataScientist(mlflow_server.url, trust, tmp_path_factory.mktemp("work"))


@pytest.fixture
def check(mlflow_server: MlflowServer, trust_opa: str):
    """`gatekeeper check --mlflow URL` against the session's MLflow and OPA, JSON report."""

    def invoke(*args: str, mlflow: str | None = None, env: dict[str, str] | None = None) -> CliResult:
        return run_cli("check", "--mlflow", mlflow or mlflow_server.url, "--opa-url", trust_opa,
                       "--format", "json", *map(str, args), env=env)

    return invoke
