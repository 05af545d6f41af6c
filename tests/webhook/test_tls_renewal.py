"""A renewed serving certificate is served without a restart (issue 13)."""

from __future__ import annotations

import os
import socket
import ssl
import time
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..e2e.cluster import _CA
from .server import GateProcess


def presented(port: int, ca: ssl.SSLContext) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, ca.wrap_socket(
            raw, server_hostname="localhost") as tls:
        return tls.getpeercert(binary_form=True)


def der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


def replace(path: Path, data: bytes) -> None:
    # as a Secret volume or cert-manager's tools do: whole files, swapped in
    path.with_suffix(".new").write_bytes(data)
    os.replace(path.with_suffix(".new"), path)


def test_a_renewed_certificate_is_presented_by_new_handshakes(tmp_path):
    ca = _CA()
    cert, key = ca.issue("localhost", dns_names=["localhost"], ip_addresses=["127.0.0.1"], server=True)
    (tmp_path / "tls.crt").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)
    (tmp_path / "ca.crt").write_bytes(ca.cert.public_bytes(Encoding.PEM))
    trust = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    gate = GateProcess(tmp_path, "--tls-cert", str(tmp_path / "tls.crt"), "--tls-key", str(tmp_path / "tls.key"),
                       env={"GATEKEEPER_RELOAD_INTERVAL": "0.2"})
    gate.url, gate.verify = f"https://127.0.0.1:{gate.port}", trust
    gate.start()
    try:
        assert presented(gate.port, trust) == der(cert)
        # A half-renewed pair (new key, old certificate) is not loaded: the old pair stays served.
        renewed, renewed_key = ca.issue("localhost", dns_names=["localhost"], ip_addresses=["127.0.0.1"], server=True)
        replace(tmp_path / "tls.key", renewed_key)
        deadline = time.monotonic() + 15
        while "reload failed; still serving the previous one" not in gate.log.read_text():
            assert time.monotonic() < deadline, "the mismatched pair was not noticed"
            time.sleep(0.1)
        assert presented(gate.port, trust) == der(cert)
        replace(tmp_path / "tls.crt", renewed)
        deadline = time.monotonic() + 15
        while presented(gate.port, trust) != der(renewed):
            assert time.monotonic() < deadline, "the renewed certificate was not served"
            time.sleep(0.1)
        assert gate.process.poll() is None  # the same process: no restart
        assert httpx.get(f"{gate.url}/healthz", verify=trust).status_code == 200
    finally:
        gate.stop()
