"""Start the real `gatekeeper serve` process on a free port and talk to it over HTTP."""

from __future__ import annotations

import copy
import os
import signal
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import yaml

from gatekeeper.opa.server import free_port

from ..conftest import MANIFESTS, ROOT


class GateProcess:
    def __init__(self, workdir: Path, *args: str, env: dict[str, str] | None = None,
                 command: tuple[str, ...] = (sys.executable, "-m", "gatekeeper"), cwd: Path = ROOT,
                 own_log: bool = True) -> None:
        """`command`/`cwd`/`own_log=False`: started as `make run` does (the installed script, in
        a checkout, no --audit-db: serve's default log under cwd)."""
        self.workdir = workdir
        self.port = free_port()
        self.audit_db = f"sqlite:///{workdir / 'audit.db'}"
        self.command, self.cwd, self.own_log = command, cwd, own_log
        self.args = args
        self.env = env or {}
        self.log = workdir / "gate.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"
        self.verify: bool | ssl.SSLContext = True  # how /readyz is asked (HTTPS subclasses set their CA)

    def start(self, timeout: float = 30.0) -> GateProcess:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the gate is already running")
        args = list(self.args)
        if self.own_log and "--audit-db" not in args:
            args += ["--audit-db", self.audit_db]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [*self.command, "serve", "--port", str(self.port), *args],
                cwd=self.cwd, stdout=log, stderr=log, env={**os.environ, **self.env}, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        with httpx.Client(verify=self.verify, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"gatekeeper serve exited: {self.log.read_text()[-2000:]}")
                try:
                    if client.get(f"{self.url}/readyz").status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gatekeeper serve not ready in {timeout}s: {self.log.read_text()[-2000:]}")

    def opa_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid), "opa"], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def manifest(name: str, folder: str = "compliant") -> dict[str, Any]:
    return next(yaml.safe_load_all((MANIFESTS / folder / name).read_text()))


def review(obj: dict[str, Any] | None, *, operation: str = "CREATE", uid: str | None = None,
           dry_run: bool = False, old: dict[str, Any] | None = None, namespace: str | None = None,
           user: str = "alice@example.com", groups: tuple[str, ...] = ("system:authenticated",)) -> dict[str, Any]:
    meta = (obj or old or {}).get("metadata", {})
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid or str(uuid.uuid4()),
            "kind": {"group": "serving.kserve.io", "version": "v1beta1", "kind": (obj or old or {}).get("kind", "")},
            "resource": {"group": "serving.kserve.io", "version": "v1beta1", "resource": "inferenceservices"},
            "operation": operation,
            "namespace": namespace or meta.get("namespace"),
            "name": meta.get("name"),
            "userInfo": {"username": user, "groups": list(groups)},
            "object": copy.deepcopy(obj),
            "oldObject": copy.deepcopy(old),
            "dryRun": dry_run,
        },
    }
