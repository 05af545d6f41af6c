"""A real Kubernetes control plane (kube-apiserver + kine/SQLite) for end-to-end tests.

    from tests.e2e.cluster import KubeControlPlane

    with KubeControlPlane(tmp_path) as cp:
        cp.kubeconfig_path   # admin kubeconfig (client cert in group system:masters)
        cp.server            # "https://127.0.0.1:PORT"
        cp.ca_pem            # PEM of the CA that signed the apiserver's serving cert
        cp.issue_cert(...)   # more certs from the same CA (e.g. a webhook's serving cert)

The binaries come from ``scripts/build-kube.sh`` (``.tools/kube/$KUBE_VERSION/``, version from
``scripts/tools.env``) or from ``$GATEKEEPER_KUBE_BIN_DIR``. If they are missing this raises
:class:`KubeBinariesMissing`; it never skips.

Only loopback addresses are used: kine listens on 127.0.0.1 (metrics off), the apiserver binds
127.0.0.1. Both run in their own process groups with PR_SET_PDEATHSIG=SIGKILL (Linux), and are
stopped on ``__exit__`` (also on exceptions) and from ``atexit`` as a last resort. PDEATHSIG fires
when the *thread* that started them ends: start the control plane from a long-lived thread (the
main thread, as pytest fixtures do).
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import datetime as _dt
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_ENV = REPO_ROOT / "scripts" / "tools.env"
BIN_DIR_ENV = "GATEKEEPER_KUBE_BIN_DIR"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"

__all__ = [
    "ControlPlaneError",
    "KubeBinariesMissing",
    "KubeControlPlane",
    "default_bin_dir",
    "pinned_versions",
]


class KubeBinariesMissing(RuntimeError):
    """kube-apiserver or kine is not built: run scripts/build-kube.sh."""


class ControlPlaneError(RuntimeError):
    """kine or kube-apiserver did not start (the message holds the end of its log)."""


# --- versions and binaries ---------------------------------------------------------------------


def pinned_versions() -> dict[str, str]:
    """KEY=VALUE lines of scripts/tools.env (KUBE_VERSION, KINE_VERSION, ...)."""
    out: dict[str, str] = {}
    for line in TOOLS_ENV.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip().strip("\"'")
    return out


def default_bin_dir() -> Path:
    """$GATEKEEPER_KUBE_BIN_DIR, else .tools/kube/$KUBE_VERSION in the repository."""
    if os.environ.get(BIN_DIR_ENV):
        return Path(os.environ[BIN_DIR_ENV])
    version = pinned_versions().get("KUBE_VERSION")
    if not version:
        raise KubeBinariesMissing(f"KUBE_VERSION is not set in {TOOLS_ENV}")
    return REPO_ROOT / ".tools" / "kube" / version


def _find_binaries(bin_dir: Path) -> tuple[Path, Path]:
    apiserver, kine = bin_dir / "kube-apiserver", bin_dir / "kine"
    missing = [str(p) for p in (apiserver, kine) if not (p.is_file() and os.access(p, os.X_OK))]
    if missing:
        raise KubeBinariesMissing(
            f"missing {', '.join(missing)}: run scripts/build-kube.sh first (it builds "
            f"kube-apiserver and kine into .tools/kube/<version>/; about 15-25 minutes cold on "
            f"2 cores, a no-op afterwards), or point ${BIN_DIR_ENV} at a folder holding both"
        )
    return apiserver, kine


# --- PKI -----------------------------------------------------------------------------------------


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class _CA:
    def __init__(self, common_name: str = "gatekeeper-e2e-ca") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = _dt.datetime.now(_dt.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(minutes=5))
            .not_valid_after(now + _dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), False)
            .sign(self.key, hashes.SHA256())
        )

    def issue(
        self,
        common_name: str,
        *,
        organizations: Sequence[str] = (),
        dns_names: Iterable[str] = (),
        ip_addresses: Iterable[str] = (),
        server: bool = False,
        client: bool = False,
    ) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        now = _dt.datetime.now(_dt.timezone.utc)
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
            [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(minutes=5))
            .not_valid_after(now + _dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=False,
                    crl_sign=False, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        )
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return _pem_cert(builder.sign(self.key, hashes.SHA256())), _pem_key(key)


# --- processes -----------------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
_KINE_SQLITE_PARAMS = (
    "_journal_mode=WAL&_busy_timeout=30000&_synchronous=NORMAL&_txlock=immediate"
    "&_stmt_cache_size=20&cache=shared"
)


def _child_setup(parent_pid: int):
    """preexec_fn: die with the parent (Linux), even if it is SIGKILLed."""

    def setup() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # not Linux: the atexit hook and __exit__ remain
            return
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return setup


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


class _Proc:
    def __init__(self, name: str, argv: list[str], log_path: Path, cwd: Path) -> None:
        self.name, self.log_path = name, log_path
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: killpg reaches any child it forks
            preexec_fn=_child_setup(os.getpid()),
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is None:
            for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
                try:
                    os.killpg(self.popen.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.popen.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:
            try:  # the leader is gone; clear anything left in its group
                os.killpg(self.popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._log.close()

    def failure(self, what: str) -> ControlPlaneError:
        code = self.popen.poll()
        state = f"exited with {code}" if code is not None else "still running"
        return ControlPlaneError(
            f"{self.name} {what} ({state}); log {self.log_path}:\n{_log_tail(self.log_path)}"
        )


# --- the control plane ---------------------------------------------------------------------------


class KubeControlPlane:
    """kine + kube-apiserver on loopback ports, PKI and logs under ``workdir``.

    ``extra_apiserver_args`` are appended to the apiserver's command line (e.g.
    ``["--admission-control-config-file=..."]``); a later flag overrides an earlier one.
    """

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        *,
        bin_dir: str | os.PathLike[str] | None = None,
        extra_apiserver_args: Sequence[str] = (),
        start_timeout: float = 120.0,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.bin_dir = Path(bin_dir) if bin_dir is not None else default_bin_dir()
        # Fail at construction, before any work, if the binaries are not there.
        self.apiserver_bin, self.kine_bin = _find_binaries(self.bin_dir)
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.start_timeout = start_timeout
        self._procs: list[_Proc] = []
        self._ca: _CA | None = None
        self.kine_port: int | None = None
        self.port: int | None = None

    # public attributes, valid after start()
    @property
    def server(self) -> str:
        if self.port is None:
            raise RuntimeError("the control plane is not started")
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_pem(self) -> bytes:
        return self.ca_cert_path.read_bytes()

    @property
    def pki_dir(self) -> Path:
        return self.workdir / "pki"

    @property
    def ca_cert_path(self) -> Path:
        return self.pki_dir / "ca.crt"

    @property
    def admin_cert_path(self) -> Path:
        return self.pki_dir / "admin.crt"

    @property
    def admin_key_path(self) -> Path:
        return self.pki_dir / "admin.key"

    @property
    def kubeconfig_path(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def apiserver_log(self) -> Path:
        return self.workdir / "kube-apiserver.log"

    @property
    def kine_log(self) -> Path:
        return self.workdir / "kine.log"

    def issue_cert(
        self,
        common_name: str,
        *,
        organizations: Sequence[str] = (),
        dns_names: Iterable[str] = (),
        ip_addresses: Iterable[str] = (),
        server: bool = True,
        client: bool = False,
    ) -> tuple[bytes, bytes]:
        """(cert PEM, key PEM) signed by this control plane's CA (``ca_pem``)."""
        if self._ca is None:
            raise RuntimeError("the control plane is not started")
        return self._ca.issue(
            common_name, organizations=organizations, dns_names=dns_names,
            ip_addresses=ip_addresses, server=server, client=client,
        )

    # context manager
    def __enter__(self) -> "KubeControlPlane":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._procs:
            raise RuntimeError("already started")
        self.workdir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        try:
            self._write_pki()
            self._start_kine()
            self._start_apiserver()
            self._write_kubeconfig()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the apiserver, then kine. Idempotent."""
        procs, self._procs = self._procs, []
        for proc in reversed(procs):
            proc.stop()
        atexit.unregister(self.stop)

    # steps
    def _write_pki(self) -> None:
        pki = self.pki_dir
        pki.mkdir(parents=True, exist_ok=True)
        self._ca = ca = _CA()
        files = {
            "ca.crt": _pem_cert(ca.cert),
            "ca.key": _pem_key(ca.key),
        }
        files["apiserver.crt"], files["apiserver.key"] = ca.issue(
            "kube-apiserver",
            dns_names=["localhost", "kubernetes", "kubernetes.default",
                       "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"],
            ip_addresses=["127.0.0.1", "10.0.0.1"],
            server=True,
        )
        files["admin.crt"], files["admin.key"] = ca.issue(
            "gatekeeper-e2e-admin", organizations=["system:masters"], client=True
        )
        sa_key = ec.generate_private_key(ec.SECP256R1())
        files["sa.key"] = _pem_key(sa_key)
        files["sa.pub"] = sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for name, data in files.items():
            path = pki / name
            path.write_bytes(data)
            if name.endswith(".key"):
                path.chmod(0o600)

    def _start_kine(self) -> None:
        self.kine_port = _free_port()
        db = self.workdir / "kine" / "state.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        proc = _Proc(
            "kine",
            [
                str(self.kine_bin),
                f"--listen-address=127.0.0.1:{self.kine_port}",
                # kine's own defaults for its default path (pkg/drivers/sqlite DefaultParams):
                # without them concurrent writes fail with SQLITE_BUSY and start-up crawls
                f"--endpoint=sqlite://{db}?{_KINE_SQLITE_PARAMS}",
                "--metrics-bind-address=0",  # default is :8080 on every interface
            ],
            self.kine_log,
            self.workdir,
        )
        self._procs.append(proc)
        deadline = time.monotonic() + 30
        while True:
            if not proc.alive():
                raise proc.failure("exited during start-up")
            try:
                with socket.create_connection(("127.0.0.1", self.kine_port), timeout=1):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise proc.failure(f"did not listen on 127.0.0.1:{self.kine_port} within 30 s")
            time.sleep(0.1)

    def _start_apiserver(self) -> None:
        self.port = _free_port()
        pki = self.pki_dir
        argv = [
            str(self.apiserver_bin),
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--etcd-servers=http://127.0.0.1:{self.kine_port}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--authorization-mode=RBAC",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--cert-dir={pki}",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            # no controller-manager creates service-account tokens here
            "--disable-admission-plugins=ServiceAccount",
            # the kubernetes Service endpoint would be 127.0.0.1, which validation rejects
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--profiling=false",
            *self.extra_apiserver_args,
        ]
        self._procs.append(_Proc("kube-apiserver", argv, self.apiserver_log, self.workdir))

    def _write_kubeconfig(self) -> None:
        def b64(path: Path) -> str:
            return base64.b64encode(path.read_bytes()).decode()

        self.kubeconfig_path.write_text(
            "apiVersion: v1\n"
            "kind: Config\n"
            "clusters:\n"
            "- name: e2e\n"
            "  cluster:\n"
            f"    server: {self.server}\n"
            f"    certificate-authority-data: {b64(self.ca_cert_path)}\n"
            "users:\n"
            "- name: e2e-admin\n"
            "  user:\n"
            f"    client-certificate-data: {b64(self.admin_cert_path)}\n"
            f"    client-key-data: {b64(self.admin_key_path)}\n"
            "contexts:\n"
            "- name: e2e\n"
            "  context:\n"
            "    cluster: e2e\n"
            "    user: e2e-admin\n"
            "current-context: e2e\n"
        )
        self.kubeconfig_path.chmod(0o600)

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting the CA and presenting the admin certificate."""
        ctx = ssl.create_default_context(cafile=str(self.ca_cert_path))
        ctx.load_cert_chain(str(self.admin_cert_path), str(self.admin_key_path))
        return ctx

    def _get(self, path: str, ctx: ssl.SSLContext) -> int:
        try:
            with urllib.request.urlopen(self.server + path, context=ctx, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code
        except (urllib.error.URLError, OSError):
            return 0

    def _wait_ready(self) -> None:
        ctx = self.ssl_context()
        kine, apiserver = self._procs
        deadline = time.monotonic() + self.start_timeout
        # /readyz covers storage and the RBAC bootstrap; the default namespace comes right after.
        for path in ("/readyz", "/api/v1/namespaces/default"):
            while self._get(path, ctx) != 200:
                for proc in (kine, apiserver):
                    if not proc.alive():
                        raise proc.failure("exited during start-up")
                if time.monotonic() > deadline:
                    raise apiserver.failure(
                        f"{path} did not answer 200 within {self.start_timeout:.0f} s"
                    )
                time.sleep(0.25)
