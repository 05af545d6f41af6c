"""One Settings object for every front door; environment variables GATEKEEPER_*."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gatekeeper.paths import default_evidence_dir, default_policy_dir


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEKEEPER_", extra="ignore")

    # Policy engine: with no URL the gate starts OPA itself on loopback with policy_dir.
    opa_url: str | None = None
    policy_dir: Path = Field(default_factory=default_policy_dir)
    opa_timeout: float = 2.0

    # Evidence: a folder of bundles (default: the examples), or an MLflow registry.
    evidence_dir: Path | None = None
    mlflow_url: str | None = None
    evidence_timeout: float = 1.0
    evidence_cache_ttl: float = 30.0

    # Webhook.
    host: str = "127.0.0.1"
    port: int = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    response_budget: float = 3.0
    max_body_bytes: int = 4 * 1024 * 1024
    evaluate_token: str | None = None
    # When set, `/validate*` answers only callers presenting `Authorization: Bearer <the
    # file's content>`: the kube-apiserver, through its AdmissionConfiguration kubeConfigFile
    # (deploy/apiserver/). Anyone else gets a 401 and nothing is recorded.
    admission_token_file: Path | None = None
    # How often the serving certificate and the admission token are checked for renewal
    # (a stat of each file; nothing per request).
    reload_interval: float = 10.0
    # In-cluster API access (namespace labels, owners the webhook confirms, the inventory):
    # the kubelet's projected service-account files.
    kube_token_file: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    kube_ca_file: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
    audit_db: str = "sqlite:///.gatekeeper/audit.db"
    # The decision log's checkpoints (README "The decision log"): the signer key file (Go
    # note format, `gatekeeper keygen --log`), the origin line (default: the key's name),
    # and the most seconds between two checkpoints while the log grows.
    log_key: Path | None = None
    log_origin: str | None = None
    checkpoint_interval: float = 10.0
    # Witnesses each checkpoint is sent to, URL=VERIFIER_KEY (GATEKEEPER_WITNESS: a JSON list).
    witness: list[str] = []

    def evidence_root(self) -> Path:
        return self.evidence_dir or default_evidence_dir()
