"""`gatekeeper serve`: run the admission webhook (webhook.app) under uvicorn.

It also chooses the cluster, one ApiClient for every reader of the gate (the webhook's
owner confirmation and namespace labels, webhook/kube.py; GET /v1/inventory), and wires
GET /v1/inventory: the webhook may not import the auditor (sibling front doors), so the
reader of the auditor's PolicyReports is built here, in the layer above both.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from gatekeeper.cli.common import (AuditDb, Evidence, Mlflow, OpaUrl, PolicyDir, api_client, fail, note,
                                   note_default_folders, settings)
from gatekeeper.config import Settings

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from gatekeeper.audit.note import Signer

    from gatekeeper.webhook.inventory import InventoryReader


# `make run`'s checkpoint key, made on first start (the embedded default's name).
DEFAULT_LOG_KEY = Path(".gatekeeper/log.key")
DEFAULT_LOG_NAME = "localhost/model-gatekeeper"


def serve(
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default: GATEKEEPER_HOST, else 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port to listen on (default: GATEKEEPER_PORT, else 8443).")] = None,
    evidence: Evidence = None,
    mlflow: Mlflow = None,
    opa_url: OpaUrl = None,
    policy_dir: PolicyDir = None,
    tls_cert: Annotated[Optional[Path], typer.Option(help="Serving certificate (PEM); HTTPS when given (default: GATEKEEPER_TLS_CERT).")] = None,
    tls_key: Annotated[Optional[Path], typer.Option(help="Serving key (PEM) (default: GATEKEEPER_TLS_KEY).")] = None,
    audit_db: AuditDb = None,
    evaluate_token: Annotated[Optional[str], typer.Option(
        envvar="GATEKEEPER_EVALUATE_TOKEN", show_envvar=True,
        help="Require this bearer token on POST /v1/evaluate (gatekeeper check --remote --token) and GET /v1/inventory.")] = None,
    admission_token_file: Annotated[Optional[Path], typer.Option(
        help="Answer /validate only to callers sending this file's token (the API server's kubeConfigFile; "
             "default: GATEKEEPER_ADMISSION_TOKEN_FILE).")] = None,
    kubeconfig: Annotated[Optional[Path], typer.Option(
        help="Kubeconfig the gate reads the cluster with: the owners it confirms, namespace labels for /validate, "
             "GET /v1/inventory (default: KUBECONFIG, else in a cluster the pod's service account, else none: "
             "owned workloads fail closed, /validate takes production, the inventory answers 503).")] = None,
    log_key: Annotated[Optional[Path], typer.Option(
        help="The decision log's checkpoint signer key (gatekeeper keygen --log; default: GATEKEEPER_LOG_KEY, "
             f"else with a SQLite log {DEFAULT_LOG_KEY}, made on first start).")] = None,
    log_origin: Annotated[Optional[str], typer.Option(
        help="The checkpoints' origin line (default: GATEKEEPER_LOG_ORIGIN, else the key's name).")] = None,
    checkpoint_interval: Annotated[Optional[float], typer.Option(
        min=0.1, help="Most seconds between two checkpoints while the log grows "
                      "(default: GATEKEEPER_CHECKPOINT_INTERVAL, else 10).")] = None,
    witness: Annotated[Optional[list[str]], typer.Option(
        help="A witness to send each checkpoint to, URL=VERIFIER_KEY (C2SP tlog-witness); repeatable "
             "(default: GATEKEEPER_WITNESS, a JSON list).")] = None,
) -> None:
    """Run the admission webhook."""
    from gatekeeper.webhook.app import run as run_webhook

    run = settings(host=host, port=port, evidence_dir=evidence, mlflow_url=mlflow, opa_url=opa_url,
                   policy_dir=policy_dir, tls_cert=tls_cert, tls_key=tls_key, audit_db=audit_db,
                   evaluate_token=evaluate_token, admission_token_file=admission_token_file, log_key=log_key,
                   log_origin=log_origin, checkpoint_interval=checkpoint_interval, witness=witness or None)
    if bool(run.tls_cert) != bool(run.tls_key):
        raise fail("--tls-cert and --tls-key go together")
    _check_witnesses(run.witness)
    try:
        api = api_client(kubeconfig, run, outside_a_cluster_ok=True)  # a bad kubeconfig ends the command here
    except (OSError, ValueError) as exc:
        raise fail(f"cannot reach the Kubernetes API: {exc}") from None
    # After every flag is checked: a refused command neither makes a key nor announces one.
    run = run.model_copy(update={"log_key": checkpoint_key(run)})
    inventory = inventory_reader(api)
    note_default_folders(run, policies=not run.opa_url, evidence=True)
    if run.audit_db.startswith("sqlite:///") and not run.audit_db.startswith("sqlite:////"):
        Path(run.audit_db[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    try:
        run_webhook(run, inventory=inventory, api_client=api)
    except (OSError, ValueError) as exc:
        raise fail(str(exc)) from None


def checkpoint_key(run: Settings) -> Path:
    """The key the gate signs checkpoints with, checked before serving. With no key given
    and a SQLite log (`make run`), one is made under .gatekeeper/ on first start; replicas
    sharing a PostgreSQL log must be given theirs (one key, one checkpoint sequence)."""
    from gatekeeper.audit.note import NoteError, Signer, load_signer

    path = run.log_key
    if path is None:
        if run.audit_db.startswith(("postgresql://", "postgres://")):
            raise fail("--log-key (GATEKEEPER_LOG_KEY) is required with a PostgreSQL decision log: "
                       "every replica signs its checkpoints with the same key")
        path = DEFAULT_LOG_KEY
        if not path.exists():
            _make_key(path, Signer.generate(DEFAULT_LOG_NAME))
    try:
        signer = load_signer(path)
    except NoteError as exc:
        raise fail(str(exc)) from None
    note(f"checkpoints signed by {path}; verifier key: {signer.verifier}")
    return path


def _check_witnesses(specs: list[str]) -> None:
    from gatekeeper.audit.note import NoteError
    from gatekeeper.audit.witness import Witness

    for spec in specs:
        try:
            Witness.parse(spec)
        except NoteError as exc:
            raise fail(f"--witness: {exc}") from None


def _make_key(path: Path, signer: Signer) -> None:
    """Written whole, then linked into place: two gates starting at once never read half a
    key, and the second keeps the first one's."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as tmp:  # mode 0600
        tmp.write(f"{signer}\n")
    try:
        os.link(tmp.name, path)
        note(f"made the decision log's checkpoint key {path}")
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp.name)


def inventory_reader(api: ApiClient | None, unavailable: type[Exception] | None = None) -> InventoryReader | None:
    """GET /v1/inventory's rows (and the console's): the auditor's reports through its
    client, the rows of `gatekeeper inventory` (auditor.inventory), a failure raised as
    `unavailable` (default: the webhook's KubernetesUnavailable). None when there is no
    cluster to ask."""
    if api is None:
        return None
    from gatekeeper.auditor.client import Cluster, ClusterError
    from gatekeeper.auditor.inventory import as_json, read

    if unavailable is None:
        from gatekeeper.webhook.inventory import KubernetesUnavailable as unavailable
    cluster = Cluster(api)

    async def rows(namespace: str | None) -> list[dict[str, Any]]:
        try:
            return as_json(await read(cluster, namespace))
        except ClusterError as exc:  # the front doors know no auditor types: their own error, same words
            raise unavailable(str(exc)) from None

    return rows
