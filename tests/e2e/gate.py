"""The real `gatekeeper serve` over HTTPS, with a serving certificate from the cluster's CA.

Extends tests/webhook/server.py's GateProcess (same command line, audit DB and log) with
`--tls-cert/--tls-key`, and waits for `/readyz` over HTTPS verified against that CA. The
port is chosen once, so a stopped gate starts again where the webhook configuration
points (`https://127.0.0.1:PORT/validate/<environment>`).
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ..conftest import ROOT
from ..webhook.server import GateProcess


class TlsGateProcess(GateProcess):
    def __init__(self, workdir: Path, *, cert_pem: bytes, key_pem: bytes, ca_pem: bytes, args: tuple[str, ...] = ()) -> None:
        tls = workdir / "tls"
        tls.mkdir(parents=True, exist_ok=True)
        cert, key, ca = tls / "tls.crt", tls / "tls.key", tls / "ca.crt"
        cert.write_bytes(cert_pem)
        key.write_bytes(key_pem)
        key.chmod(0o600)
        ca.write_bytes(ca_pem)
        super().__init__(workdir, "--tls-cert", str(cert), "--tls-key", str(key), *args)
        self.ca_file = ca
        self.url = f"https://127.0.0.1:{self.port}"

    def webhook_url(self, environment: str) -> str:
        return f"{self.url}/validate/{environment}"

    def start(self, timeout: float = 60.0) -> TlsGateProcess:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the gate is already running")
        args = list(self.args)
        if "--audit-db" not in args:
            args += ["--audit-db", self.audit_db]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gatekeeper", "serve", "--port", str(self.port), *args],
                cwd=ROOT, stdout=log, stderr=log, env={**os.environ, **self.env}, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        with httpx.Client(verify=ssl.create_default_context(cafile=str(self.ca_file)), timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"gatekeeper serve exited: {self.log.read_text()[-2000:]}")
                try:
                    if client.get(f"{self.url}/readyz").status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gatekeeper serve (TLS) not ready in {timeout}s: {self.log.read_text()[-2000:]}")

    def reviews_answered(self) -> float:
        """How many AdmissionReviews this gate process has answered (its /metrics histogram count)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        text = httpx.get(f"{self.url}/metrics", verify=context, timeout=5).text
        for line in text.splitlines():
            if line.startswith("gatekeeper_admission_review_seconds_count"):
                return float(line.split()[-1])
        raise AssertionError("gatekeeper_admission_review_seconds_count missing from /metrics")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None
