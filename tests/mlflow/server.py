"""A real `mlflow server` (SQLite backend, local artifact store) on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gatekeeper.opa.server import free_port

MLFLOW_PIN = "3.17.2"  # the `mlflow` extra of pyproject.toml pins this version


def mlflow_binary() -> str | None:
    candidate = Path(sys.executable).parent / "mlflow"
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


class MlflowServer:
    """`mlflow server` as a child process: one worker, job execution off, artifacts proxied."""

    def __init__(self, workdir: Path, *, port: int | None = None, basic_auth: tuple[str, str] | None = None) -> None:
        self.workdir = workdir
        self.basic_auth = basic_auth  # (admin user, password): `--app-name basic-auth`, nobody may read by default
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "mlflow.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> MlflowServer:
        binary = mlflow_binary()
        if binary is None:
            raise RuntimeError(f"mlflow is not installed next to {sys.executable}: run `make install` (the mlflow extra) "
                               f"(mlflow-skinny=={MLFLOW_PIN} and the server's dependencies)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [
            binary, "server",
            "--backend-store-uri", f"sqlite:///{self.workdir / 'mlflow.db'}",
            "--artifacts-destination", str(self.workdir / "artifacts"),
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
        ]
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PYTHONUNBUFFERED": "1"}
        if self.basic_auth:
            config = self.workdir / "basic_auth.ini"
            config.write_text(
                "[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
                f"database_uri = sqlite:///{self.workdir / 'auth.db'}\n"
                f"admin_username = {self.basic_auth[0]}\nadmin_password = {self.basic_auth[1]}\n"
                "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
                # Without it every request pays a PBKDF2 check (~0.1 s here): a cold lookup's ten
                # requests would not fit the 1 s evidence timeout (docs/mlflow.md).
                "auth_cache_ttl_seconds = 60\n")
            command += ["--app-name", "basic-auth"]
            env.update(MLFLOW_AUTH_CONFIG_PATH=str(config), MLFLOW_FLASK_SERVER_SECRET_KEY="gatekeeper-tests")
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME",
                     "MLFLOW_TRACKING_PASSWORD"):
            env.pop(name, None)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, cwd=self.workdir, stdout=log, stderr=log, env=env,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {self.process.returncode}: {self.tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer /health within {timeout:g}s: {self.tail()}")

    def tail(self) -> str:
        try:
            return self.log.read_text()[-3000:]
        except OSError:
            return ""

    def pause(self) -> None:
        """Freeze the server (it accepts connections but never answers): a hung registry."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGCONT)
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass
