"""The real `gatekeeper serve` over HTTPS, with a serving certificate from the cluster's CA.

Extends tests/webhook/server.py's GateProcess (same command line, audit DB and log) with
`--tls-cert/--tls-key`, and waits for `/readyz` over HTTPS verified against that CA. The
port is chosen once, so a stopped gate starts again where the webhook configuration
points (`https://127.0.0.1:PORT/validate/<environment>`).
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx

from ..webhook.server import GateProcess


class TlsGateProcess(GateProcess):
    def __init__(self, workdir: Path, *, cert_pem: bytes, key_pem: bytes, ca_pem: bytes, args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> None:
        tls = workdir / "tls"
        tls.mkdir(parents=True, exist_ok=True)
        cert, key, ca = tls / "tls.crt", tls / "tls.key", tls / "ca.crt"
        cert.write_bytes(cert_pem)
        key.write_bytes(key_pem)
        key.chmod(0o600)
        ca.write_bytes(ca_pem)
        super().__init__(workdir, "--tls-cert", str(cert), "--tls-key", str(key), *args, env=env)
        self.ca_file = ca
        self.url = f"https://127.0.0.1:{self.port}"
        self.verify = ssl.create_default_context(cafile=str(ca))

    def webhook_url(self, environment: str) -> str:
        return f"{self.url}/validate/{environment}"

    def reviews_answered(self) -> float:
        """How many AdmissionReviews this gate process has answered (its /metrics histogram count)."""
        text = httpx.get(f"{self.url}/metrics", verify=self.verify, timeout=5).text
        for line in text.splitlines():
            if line.startswith("gatekeeper_admission_review_seconds_count"):
                return float(line.split()[-1])
        raise AssertionError("gatekeeper_admission_review_seconds_count missing from /metrics")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None
