"""The gate as deploy/ runs it, on this machine: the image's install, the rendered pod.

- `install_image_wheel`: the wheel built the way the Dockerfile builds it (from a copy of
  what it COPYs), installed with the image's extras (`IMAGE_EXTRAS`, checked against the
  Dockerfile by tests/deploy) into a fresh virtual environment.
- `Pod`: the rendered Deployment's two containers as processes. Volumes become folders
  (Secrets and the generated policies ConfigMap written from what the test and kustomize
  give); the containers' args and env are deploy/'s, with three rewrites a single machine
  needs, each checked before it is made: mount paths -> those folders, the declared ports ->
  free loopback ports (the probes must name the same port), `--host 0.0.0.0` -> 127.0.0.1.
  Each process runs in its own mount namespace whose root filesystem is read-only except the
  pod's writable volumes (deploy/ sets readOnlyRootFilesystem), so a stray write fails.
  The cluster is reached as a pod does: KUBERNETES_SERVICE_HOST/PORT, and the service
  account token and CA at the paths the gate's settings name (the kubelet's in a pod).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
from kubernetes import client
from kubernetes.client.rest import ApiException

from gatekeeper.opa.server import free_port

from ..conftest import ROOT
from .conftest import load_manifest
from .kube import Kube, wait_for, with_namespace

# How the image installs the wheel (the Dockerfile's `pip install`): these extras, these
# constraints. A test in tests/deploy parses the Dockerfile and checks they agree.
IMAGE_EXTRAS: tuple[str, ...] = ()
IMAGE_CONSTRAINTS = "constraints.txt"
OPA_BINARY = ROOT / ".tools" / "bin" / "opa"


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, argv))} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def install_image_wheel(workdir: Path) -> Path:
    """Build the wheel as the Dockerfile does; install it with IMAGE_EXTRAS into a new venv."""
    source = workdir / "src-copy"  # COPY pyproject.toml README.md LICENSE* constraints.txt ./ ; COPY src/ ./src/
    source.mkdir(parents=True)
    for path in [ROOT / "pyproject.toml", ROOT / "README.md", *ROOT.glob("LICENSE*"), ROOT / IMAGE_CONSTRAINTS]:
        shutil.copy2(path, source / path.name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    wheels = workdir / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "--wheel-dir",
         str(wheels), str(source)], timeout=600)
    [wheel] = wheels.glob("model_gatekeeper-*.whl")
    venv = workdir / "venv"
    run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], timeout=300)
    target = f"{wheel}[{','.join(IMAGE_EXTRAS)}]" if IMAGE_EXTRAS else str(wheel)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
         "-c", str(source / IMAGE_CONSTRAINTS), target], timeout=900)
    return venv


def read_only_argv(writable: list[Path], argv: list[str]) -> list[str]:
    """argv run with `/` read-only in a private mount namespace, except the `writable` folders."""
    script = ('while [ "$1" != -- ]; do mount --bind "$1" "$1" || exit 97; shift; done; shift; '
              'mount -o remount,bind,ro / || exit 97; exec "$@"')
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed to run the gate on a read-only root filesystem"
    # As root, a mount namespace; otherwise a user namespace maps us to root inside it.
    flags = ["-m", "--propagation", "private"] + ([] if os.geteuid() == 0 else ["-r"])
    return [unshare, *flags, "sh", "-c", script, "sh", *map(str, writable), "--", *argv]


def _snapshot(root: Path, skip: set[Path]) -> dict[str, tuple[int, int]]:
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) not in skip]
        for name in [*files, *dirs]:
            st = os.lstat(Path(folder, name))
            out[str(Path(folder, name))] = (st.st_mtime_ns, st.st_size)
    return out


class Pod:
    """deploy/'s Deployment (one replica) as local processes; see the module docstring."""

    def __init__(self, rendered: list[dict[str, Any]], workdir: Path, *, venv: Path,
                 secrets: dict[str, dict[str, bytes]], api_port: int, sa_token: str, ca_pem: bytes,
                 evidence: Path, port: int | None = None, reload_interval: float = 0.2) -> None:
        [deployment] = [d for d in rendered if d["kind"] == "Deployment"]
        self.spec = deployment["spec"]["template"]["spec"]
        self.containers = {c["name"]: c for c in self.spec["containers"]}
        self.rendered, self.workdir, self.venv, self.secrets = rendered, workdir, venv, secrets
        self.volumes: dict[str, Path] = {}
        self.writable: list[Path] = []
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._materialize_volumes(evidence)
        # The kubelet's projected service-account files (a pod's /var/run/secrets/...).
        sa = workdir / "serviceaccount"
        sa.mkdir()
        (sa / "token").write_text(sa_token)
        (sa / "ca.crt").write_bytes(ca_pem)
        # The image's WORKDIR (Dockerfile: policies/, examples/evidence), and HOME: read-only.
        self.cwd = workdir / "opt-model-gatekeeper"
        shutil.copytree(ROOT / "policies", self.cwd / "policies")
        shutil.copytree(ROOT / "examples" / "evidence", self.cwd / "examples" / "evidence")
        (workdir / "home").mkdir()
        self.base_env = {
            "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir / "home"),
            "LANG": "C.UTF-8", "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api_port),
            "GATEKEEPER_KUBE_TOKEN_FILE": str(sa / "token"), "GATEKEEPER_KUBE_CA_FILE": str(sa / "ca.crt"),
            # how often renewed certificates/tokens are looked for (10 s by default)
            "GATEKEEPER_RELOAD_INTERVAL": str(reload_interval),
        }
        self._ports(port)

    # --- volumes and the rewrites ------------------------------------------------------------
    def _materialize_volumes(self, evidence: Path) -> None:
        config_maps = {d["metadata"]["name"]: d for d in self.rendered if d["kind"] == "ConfigMap"}
        for volume in self.spec["volumes"]:
            folder = self.workdir / "volumes" / volume["name"]
            folder.mkdir(parents=True)
            self.volumes[volume["name"]] = folder
            if "secret" in volume:
                data = self.secrets[volume["secret"]["secretName"]]
                self._write_items(folder, data, volume["secret"].get("items"))
            elif "configMap" in volume:
                cm = config_maps[volume["configMap"]["name"]]
                self._write_items(folder, {k: v.encode() for k, v in cm["data"].items()}, volume["configMap"].get("items"))
            elif "emptyDir" in volume:
                self.writable.append(folder)
            else:
                raise AssertionError(f"volume {volume['name']}: a kind this test cannot stand in for: {volume}")
        # deploy/README.md: the operator replaces the empty `evidence` volume with their source.
        shutil.copytree(evidence, self.volumes["evidence"], dirs_exist_ok=True)
        self.writable.remove(self.volumes["evidence"])  # mounted readOnly by the gate

    @staticmethod
    def _write_items(folder: Path, data: dict[str, bytes], items: list[dict[str, str]] | None) -> None:
        for key, path in ([(i["key"], i["path"]) for i in items] if items else [(k, k) for k in data]):
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data[key])

    def _ports(self, port: int | None) -> None:
        gate, opa = self.containers["gatekeeper"], self.containers["opa"]
        declared = int(_flag(gate["args"], "--port"))
        assert [p["containerPort"] for p in gate["ports"]] == [declared]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert gate[probe]["httpGet"]["port"] == declared, f"{probe} probes another port than the gate serves"
        opa_addr = _flag(opa["args"], "--addr")
        assert _flag(gate["args"], "--opa-url") == f"http://{opa_addr}", "the gate asks another OPA than the sidecar"
        self.port, self.opa_port = port or free_port(), free_port()
        self.port_map = {str(declared): str(self.port), opa_addr: f"127.0.0.1:{self.opa_port}"}

    def _rewrite(self, value: str, container: dict[str, Any]) -> str:
        for mount in container.get("volumeMounts", []):
            if value == mount["mountPath"] or value.startswith(mount["mountPath"] + "/"):
                return str(self.volumes[mount["name"]]) + value[len(mount["mountPath"]):]
        for declared, local in self.port_map.items():
            value = value.replace(f"http://{declared}", f"http://{local}")
            if value == declared:
                value = local
        return "127.0.0.1" if value == "0.0.0.0" else value  # loopback only on this machine

    def _env(self, container: dict[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
            else:
                ref = item["valueFrom"]["secretKeyRef"]
                env[item["name"]] = self.secrets[ref["name"]][ref["key"]].decode()
        return env

    def argv(self, name: str) -> tuple[list[str], dict[str, str]]:
        container = self.containers[name]
        env = self._env(container)
        # Kubernetes expands $(VAR) in args from the container's env.
        args = [re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), a) for a in container["args"]]
        args = [self._rewrite(a, container) for a in args]
        # the opa image's entrypoint is the opa binary; the gate names its command
        command = [str(OPA_BINARY)] if name == "opa" else [shutil.which(container["command"][0], path=self.base_env["PATH"])]
        assert command[0], f"{container['command'][0]} is not installed in {self.venv}"
        tmp = next(str(self.volumes[m["name"]]) for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
        return [*command, *args], {**self.base_env, **env, "TMPDIR": tmp}

    # --- processes ------------------------------------------------------------------------------
    def start(self) -> None:
        self.before = _snapshot(self.workdir, set(self.writable)) | _snapshot(self.venv, set())
        self._spawn("opa")
        self._wait("opa", f"http://127.0.0.1:{self.opa_port}/health", verify=False)
        self._spawn("gatekeeper")

    def _spawn(self, name: str) -> None:
        argv, env = self.argv(name)
        log = open(self.workdir / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(read_only_argv(self.writable, argv), cwd=self.cwd, env=env,
                                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)

    def _wait(self, name: str, url: str, verify: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise AssertionError(f"{name} exited ({self.processes[name].returncode}): {self.log(name)}")
            try:
                if httpx.get(url, verify=verify, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{name}: {url} did not answer 200 within {timeout:.0f} s: {self.log(name)}")

    def wait_ready(self, verify: Any) -> None:
        probe = self.containers["gatekeeper"]["readinessProbe"]["httpGet"]
        self._wait("gatekeeper", f"{probe['scheme'].lower()}://127.0.0.1:{self.port}{probe['path']}", verify)

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]

    def kubelet_wrote(self, folder: Path) -> None:
        """The test changed a volume's files, as the kubelet updates a Secret: not the pod's writes."""
        self.before.update(_snapshot(folder, set()))
        st = os.lstat(folder)
        self.before[str(folder)] = (st.st_mtime_ns, st.st_size)

    def changed_outside_writable(self) -> list[str]:
        after = _snapshot(self.workdir, set(self.writable)) | _snapshot(self.venv, set())
        logs = {str(self.workdir / f"{n}.log") for n in self.containers}  # written by this test, not the pod
        return sorted(p for p in set(after) | set(self.before)
                      if after.get(p) != self.before.get(p) and p not in logs)

    def stop(self) -> None:
        for proc in reversed(list(self.processes.values())):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


@contextmanager
def registered_webhooks(kube: Kube, rendered: list[dict[str, Any]], name: str, url: str, ca_bundle: str,
                        namespace: str, records: Callable[[str], list[Any]]) -> Iterator[None]:
    """The rendered ValidatingWebhookConfiguration under `name`, each Service reference replaced by
    `url` (same path) trusting `ca_bundle`; entered once the API server sends reviews to this gate
    (a dry run of a non-compliant InferenceService in `namespace` is denied, and `records(name)` of
    the probe finds it: another gate may answer for the same label); deleted on exit."""
    [vwc] = [copy.deepcopy(d) for d in rendered if d["kind"] == "ValidatingWebhookConfiguration"]
    vwc["metadata"]["name"] = name
    for hook in vwc["webhooks"]:
        hook["clientConfig"] = {"url": url + hook["clientConfig"]["service"]["path"], "caBundle": ca_bundle}
    admissions = client.AdmissionregistrationV1Api(kube.api_client)
    admissions.create_validating_webhook_configuration(vwc)
    probe = with_namespace(load_manifest("noncompliant/fairness-credit-scoring-4.yaml"), namespace, f"{name}-probe")

    def effective() -> bool:
        try:
            kube.create(probe, dry_run="All")
        except ApiException as exc:
            return exc.status == 403 and bool(records(f"{name}-probe"))
        return False

    try:
        wait_for(f"webhook configuration {name} to take effect", effective, timeout=60)
        yield
    finally:
        try:
            admissions.delete_validating_webhook_configuration(name)
        except ApiException:
            pass


def _flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]
