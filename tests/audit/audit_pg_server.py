"""A throwaway PostgreSQL server on loopback, from the local binaries (README "The webhook").

Used by the audit tests' fixture and by bench_append.py. PostgreSQL refuses to run as
root, so as root the data directory belongs to, and the server runs as, the `postgres`
user (Debian's package makes it) or else a `gatekeeper-test` system user made here.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PREFERRED_VERSION = "15"
ADMIN_USER = "gatekeeper"


class PostgresUnavailable(RuntimeError):
    pass


def find_bin_dir() -> Path:
    wanted = os.environ.get("GATEKEEPER_PG_BIN")
    candidates = [wanted] if wanted else []
    candidates.append(f"/usr/lib/postgresql/{PREFERRED_VERSION}/bin")
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for c in candidates:
        if c and (Path(c) / "pg_ctl").is_file() and (Path(c) / "initdb").is_file():
            return Path(c)
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin "
        "or on PATH: run scripts/install-postgres.sh (or set GATEKEEPER_PG_BIN)"
    )


def _version(path: str) -> float:
    try:
        return float(Path(path).parent.name)
    except ValueError:
        return 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as_user() -> str | None:
    """The user to run PostgreSQL as, or None to run as ourselves (not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "gatekeeper-test"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "gatekeeper-test"],
        check=True,
        capture_output=True,
    )
    return "gatekeeper-test"


class PostgresServer:
    def __init__(self) -> None:
        self.bin = find_bin_dir()
        self.user = _run_as_user()
        self.dir = Path(tempfile.mkdtemp(prefix="gatekeeper-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = 0

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql://{ADMIN_USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        # --no-sync only for initdb's own files; the server keeps fsync on, so timings
        # and durability are those of a real deployment.
        self._run("initdb", "-D", str(self.data), "-U", ADMIN_USER, "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        for attempt in range(3):
            self.port = _free_port()
            options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c max_connections=50"
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start")
                return self
            except PostgresUnavailable:
                if attempt == 2:
                    raise
        return self

    def stop(self) -> None:
        try:
            if self.data.exists():
                # immediate: no shutdown checkpoint, the data is thrown away anyway.
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.dir)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresUnavailable(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}\n{log}")
