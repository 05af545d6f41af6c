import pytest

from .server import GateProcess


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    """One real gate (embedded OPA, example evidence, SQLite audit) for a test module."""
    process = GateProcess(tmp_path_factory.mktemp("gate")).start()
    yield process
    process.stop()
