"""The OPA server the gate starts for itself (the embedded default) and stops cleanly.

OPA runs as a child process on a free loopback port. It dies with its parent even when
the parent is killed (PR_SET_PDEATHSIG), so a crashed gate leaves no orphan behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO

from gatekeeper.paths import find_tool

_PR_SET_PDEATHSIG = 1


class OpaStartError(RuntimeError):
    """OPA could not be started: binary missing, policies invalid, or it never answered."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    os.setpgrp()


# OPA's live heap is small (policies and data, a few MB), so Go's default GOGC=100 collects
# after every few hundred decisions; 400 trades ~30 MB of memory for ~10 % less CPU per
# decision (`make bench`). deploy/ sets the same for the sidecar. An explicit GOGC wins.
OPA_GOGC = "400"
# The OPA beside a serving webhook gets one Go processor: one decision evaluates on one
# goroutine, and a second processor mostly spins looking for work on the cores the gate
# needs. That cut OPA's CPU per decision by ~20 % at 200 decisions/s without raising its
# latency (`make bench`); deploy/ sets the same, which also keeps the sidecar (limit 500m)
# from being CFS-throttled. `gatekeeper check` keeps Go's default: its batches run
# concurrently, and one processor doubled the time OPA took for 1,000 manifests.
SERVING_OPA_PROCESSORS = 1


def opa_environment(processors: int | None = None) -> dict[str, str]:
    """OPA's environment; an explicit GOGC or GOMAXPROCS in ours wins."""
    defaults = {"GOGC": OPA_GOGC}
    if processors is not None:
        defaults["GOMAXPROCS"] = str(processors)
    return {**defaults, **os.environ}


class OpaServer:
    """`opa run --server` on loopback with a policy folder, or a bundle file (a stored policy
    revision, opa.bundle); use as a context manager."""

    def __init__(
        self, policy_dir: str | Path, *, binary: str | None = None, log_file: str | Path | None = None,
        processors: int | None = None,
    ) -> None:
        self.policy_dir = Path(policy_dir)
        self.processors = processors  # GOMAXPROCS; None leaves it to Go
        self.binary = binary or find_tool("opa")
        self.log_file = Path(log_file) if log_file else None
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The OPA process's id while it runs (for logs and for checking it is gone)."""
        return self._process.pid if self._process is not None else None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0, port: int | None = None) -> str:
        if not self.binary or not Path(self.binary).is_file():
            raise OpaStartError("OPA binary not found: run `make install` (scripts/install-opa.sh) or put opa on PATH")
        bundle = self.policy_dir.is_file()
        if not bundle and not (self.policy_dir / "gatekeeper").is_dir():
            raise OpaStartError(f"policy folder {self.policy_dir} has no gatekeeper/ package")
        self.port = port or free_port()
        # OPA's own log goes to a file, never a pipe: a full pipe would stall OPA.
        log = open(self.log_file, "a+b") if self.log_file else tempfile.TemporaryFile()  # noqa: SIM115
        command = [
            self.binary, "run", "--server", "--addr", f"127.0.0.1:{self.port}", "--log-level", "error",
            "--disable-telemetry", "--optimize-store-for-read-speed", "--ignore", "*_test.rego",
            *(["--bundle"] if bundle else []), str(self.policy_dir),
        ]
        try:
            self._process = subprocess.Popen(command, stdout=log, stderr=log, env=opa_environment(self.processors),
                                             preexec_fn=_die_with_parent)
        except OSError as exc:
            log.close()
            raise OpaStartError(f"cannot run {self.binary}: {exc.strerror}") from None
        self._log = log
        self._wait_until_ready(timeout)
        return self.url

    def ensure_running(self) -> None:
        """Restart an OPA that exited, on the same port, so clients reconnect unchanged."""
        if self._process is not None and self._process.poll() is not None:
            port = self.port
            self.stop()
            self.start(port=port)

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise OpaStartError(f"OPA exited at start: {self._start_error()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health?bundles", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        self.stop()
        raise OpaStartError(f"OPA did not answer on {self.url} within {timeout:.0f}s")

    def _start_error(self) -> str:
        self._log.seek(0)
        lines = [line.strip() for line in self._log.read().decode(errors="replace").splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line]  # OPA's reason; later lines are source excerpts
        return " ".join((errors or lines or ["no output"])[:2])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> OpaServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
