"""A real litewitness (filippo.io/torchwood, built into .tools/bin by scripts/install-tool.sh)
with its key in a real ssh-agent (Debian's openssh-client), as its own tests run it."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from gatekeeper.opa.server import free_port

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "bin"
NAME = "witness.example/w1"


def _tool(name: str) -> str:
    found = TOOLS / name if (TOOLS / name).exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is missing: `make tools` builds litewitness/witnessctl and installs openssh-client",
                    pytrace=False)
    return str(found)


class LiteWitness:
    def __init__(self, name: str = NAME) -> None:
        self.name = name
        # ssh-agent's socket path must stay short (sun_path): not under pytest's tmp_path.
        self.dir = Path(tempfile.mkdtemp(prefix="lw"))
        self.db = self.dir / "witness.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.dir / "litewitness.log"
        self._processes: list[subprocess.Popen[bytes]] = []
        self.vkey = ""

    def add_log(self, origin: str, vkey: str) -> None:
        ctl = _tool("witnessctl")
        subprocess.run([ctl, "add-log", "-db", str(self.db), "-origin", origin], check=True, capture_output=True)
        subprocess.run([ctl, "add-key", "-db", str(self.db), "-origin", origin, "-key", vkey], check=True,
                       capture_output=True)

    def start(self) -> LiteWitness:
        key = self.dir / "key"
        subprocess.run([_tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        listed = subprocess.run([_tool("ssh-keygen"), "-l", "-E", "sha256", "-f", f"{key}.pub"], check=True,
                                capture_output=True, text=True).stdout
        fingerprint = listed.split()[1]
        agent = self.dir / "a"
        self._processes.append(subprocess.Popen([_tool("ssh-agent"), "-a", str(agent), "-D"],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self._wait(lambda: agent.exists(), "ssh-agent's socket")
        subprocess.run([_tool("ssh-add"), "-q", str(key)], env={"SSH_AUTH_SOCK": str(agent)}, check=True,
                       capture_output=True)
        with open(self.log, "ab") as log:
            self._processes.append(subprocess.Popen(
                [_tool("litewitness"), "-db", str(self.db), "-listen", f"127.0.0.1:{self.port}", "-name", self.name,
                 "-key", fingerprint, "-ssh-agent", str(agent)], stdout=log, stderr=log))
        self._wait(self._listening, "litewitness listening")
        found = re.search(r"vkey=(\S+)", self.log.read_text())
        assert found, self.log.read_text()
        self.vkey = found.group(1).strip('"')
        return self

    def _listening(self) -> bool:
        if self._processes[-1].poll() is not None:
            raise RuntimeError(f"litewitness exited: {self.log.read_text()[-2000:]}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    @staticmethod
    def _wait(ready, what: str, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{what} not ready in {timeout}s")

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self._processes.clear()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
