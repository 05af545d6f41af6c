"""What every verb group shares: the one way to fail, the one place Settings are built,
the options several commands take, and the note naming a default folder.

Where a value comes from, first match wins: the flag, then its `GATEKEEPER_*` setting,
then the command's own default (e.g. `check` waits longer for OPA than the webhook may),
then Settings' default. A default folder starts from where the user stands.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from gatekeeper.config import Settings


class Fail(Exception):
    """A one-line reason and an exit code, raised where typer.Exit cannot be (worker code
    whose caller still has input errors to print before exiting)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print the one-line reason on stderr; `raise fail(...)` ends the command with CODE
    (2: could not evaluate / bad input)."""
    typer.echo(f"gatekeeper: {message}", err=True)
    return typer.Exit(code)


def as_of(text: str | None) -> datetime:
    """`--at`: an RFC 3339 time with its offset (a time without one would depend on the
    machine), in UTC; None: now."""
    if text is None:
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"--at {text!r} is not an RFC 3339 time (e.g. 2026-12-01T00:00:00Z)") from None
    if moment.utcoffset() is None:
        raise fail(f"--at {text!r} has no time zone: add Z or an offset (e.g. 2026-12-01T00:00:00Z)")
    return moment.astimezone(timezone.utc)


def note(message: str) -> None:
    """A line for the person at the terminal; stderr, so stdout stays machine-readable."""
    typer.echo(f"gatekeeper: {message}", err=True)


def settings(defaults: Mapping[str, object] | None = None, **flags: object) -> Settings:
    """The Settings of this run: FLAGS given (None: not given) over GATEKEEPER_* over
    this command's DEFAULTS over Settings' own. Field names are Settings'."""
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        if defaults:
            environment = Settings()
            given = {**defaults, **environment.model_dump(include=environment.model_fields_set), **given}
        return Settings(**given)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise fail(f"bad setting {field} (GATEKEEPER_{field.upper()} or its flag): {error['msg']}") from None


def shown(folder: Path) -> str:
    """A folder as the user would type it: ./policies for one under the current directory."""
    if folder.is_absolute():
        return str(folder)
    return folder.as_posix() if folder.as_posix().startswith(("./", "../")) else f"./{folder.as_posix()}"


def note_default_folders(run: Settings, *, policies: bool = False, evidence: bool = False) -> None:
    """Say which folder a run reads when neither a flag nor a setting chose it: a checkout
    of the policies and the install's own look alike, and reading the wrong one is silent."""
    if policies and "policy_dir" not in run.model_fields_set:
        note(f"policies from {shown(run.policy_dir)}")
    if evidence and run.evidence_dir is None and not run.mlflow_url:
        note(f"evidence from {shown(run.evidence_root())}")


def policy_folder(flag: Path | None) -> Path:
    """The policy folder a command reads files of (flag, GATEKEEPER_POLICY_DIR, default)."""
    run = settings(policy_dir=flag)
    note_default_folders(run, policies=True)
    return run.policy_dir


def evidence_folder(flag: Path | None) -> Path:
    """The evidence folder a command reads bundles from (flag, GATEKEEPER_EVIDENCE_DIR, default)."""
    run = settings(evidence_dir=flag)
    if run.evidence_dir is None:  # a folder is read here even when GATEKEEPER_MLFLOW_URL is set
        note(f"evidence from {shown(run.evidence_root())}")
    return run.evidence_root()


def environments(text: str) -> list[str]:
    """'staging, production' -> ['staging', 'production'], in order, without repeats."""
    names = list(dict.fromkeys(e.strip() for e in text.split(",") if e.strip()))
    if not names:
        raise fail("--environment names no environment")
    return names


# --- options several commands take -----------------------------------------------------------
# None means "not given", so the setting (GATEKEEPER_*) or default applies.

PolicyDir = Annotated[Optional[Path], typer.Option(
    "--policy-dir", help="Policy folder (default: GATEKEEPER_POLICY_DIR, else ./policies, else the install's).")]
Evidence = Annotated[Optional[Path], typer.Option(
    "--evidence", help="Evidence folder (<root>/<model>/<version>/evidence.yaml) "
                       "(default: GATEKEEPER_EVIDENCE_DIR, else ./examples/evidence, else the install's).")]
Mlflow = Annotated[Optional[str], typer.Option(
    "--mlflow", help="MLflow tracking URL to read evidence from (default: GATEKEEPER_MLFLOW_URL).")]
OpaUrl = Annotated[Optional[str], typer.Option(
    "--opa-url", help="Use a running OPA instead of starting one (default: GATEKEEPER_OPA_URL).")]
AuditDb = Annotated[Optional[str], typer.Option(
    "--audit-db", help="Decision log: sqlite:///PATH, a file path, or postgresql://... "
                       "(default: GATEKEEPER_AUDIT_DB, else sqlite:///.gatekeeper/audit.db).")]
Environment = Annotated[str, typer.Option(
    "--environment", "-e", help="Environment(s) to evaluate for, comma-separated: staging,production.")]


def api_client(kubeconfig: Path | None, run: Settings, *, outside_a_cluster_ok: bool = False):  # type: ignore[no-untyped-def]
    """The one way a command reaches a cluster: --kubeconfig, else KUBECONFIG, else in a
    cluster the pod's service account (Settings.kube_token_file/kube_ca_file, re-read as the
    kubelet rotates the token). Outside a cluster with neither: None when
    `outside_a_cluster_ok` (the serving gate runs without one), else bad input. Bad input
    ends the command (exit 2, one line)."""
    import os

    from kubernetes import client, config
    from kubernetes.config.incluster_config import InClusterConfigLoader

    path = kubeconfig or (Path(os.environ["KUBECONFIG"]) if os.environ.get("KUBECONFIG") else None)
    if path is None and not os.environ.get("KUBERNETES_SERVICE_HOST") and outside_a_cluster_ok:
        return None
    try:
        if path is not None:
            if not path.is_file():
                raise fail(f"--kubeconfig {path}: no such file")
            return config.new_client_from_config(config_file=str(path))
        configuration = client.Configuration()
        InClusterConfigLoader(token_filename=str(run.kube_token_file),
                              cert_filename=str(run.kube_ca_file)).load_and_set(configuration)
        return client.ApiClient(configuration)
    except config.ConfigException as exc:
        raise fail(f"cannot reach a cluster: {exc} (give --kubeconfig, or run inside a cluster)") from None


# --since of `audit replay` and `policy impact --from-log`: one grammar for both.
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"(\d+)([mhdw])")


def period_start(since: str, now: datetime) -> datetime:
    """`30d`, `12h`, `2w`, `90m` before NOW, or an ISO-8601 time (naive = UTC)."""
    text = since.strip()
    match = _DURATION.fullmatch(text)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"--since {since!r}: expected a duration such as 30d, 12h or 2w, or an ISO-8601 time") from None
    start = start.replace(tzinfo=timezone.utc) if start.tzinfo is None else start.astimezone(timezone.utc)
    if start > now:
        raise fail(f"--since {since!r} is in the future")
    return start
