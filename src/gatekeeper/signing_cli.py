"""`gatekeeper signoff create|verify`: signed human sign-offs bound to an artifact digest."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
import yaml

from .evidence.signatures import (
    SIGNOFF_PREDICATE,
    SigningError,
    TrustStore,
    load_signer,
    parse_duration,
    sign_statement,
    signoff_predicate,
    verify_statement,
)
from .paths import default_policy_dir

app = typer.Typer(help="Create and verify signed sign-offs (DSSE envelopes of in-toto Statement v1).", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"gatekeeper: {message}", err=True)
    return typer.Exit(2)


def signers_file(policy_dir: Path | None) -> Path:
    return (policy_dir or default_policy_dir()) / "gatekeeper" / "signers" / "signers.yaml"


def _signer_name(keyid: str, path: Path) -> str | None:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    for signer in data.get("signers") or []:
        if any(key.get("keyid") == keyid for key in signer.get("keys") or []):
            return signer.get("name")
    return None


def _artifact_digest(evidence: Path, model: str, version: str) -> str:
    from .evidence.files import FileEvidenceSource
    from .evidence.source import EvidenceError
    from .models import ModelRef

    try:
        loaded = asyncio.run(FileEvidenceSource(evidence).load(ModelRef(ref=f"models:/{model}/{version}", name=model, version=version)))
    except (EvidenceError, ValueError) as exc:
        raise _fail(str(exc)) from None
    digest = loaded.bundle.artifact.digest if loaded.bundle.artifact else None
    if not digest:
        raise _fail(f"{loaded.location}: artifact.digest is not set; sign-offs bind to it")
    return digest


def write_envelope(envelope: dict[str, Any], out: Path | None) -> None:
    text = json.dumps(envelope, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    typer.echo(f"wrote {out}", err=True)


@app.command("create")
def create(
    model: Annotated[str, typer.Option(help="Registered model name.")],
    version: Annotated[str, typer.Option(help="Model version.")],
    role: Annotated[str, typer.Option(help="Role signed for: validator, compliance, owner, ...")],
    key: Annotated[Path, typer.Option(help="Private key (PEM) from `gatekeeper keygen`.")],
    expires: Annotated[str, typer.Option(help="Validity, e.g. 180d, 12h.")] = "180d",
    digest: Annotated[Optional[str], typer.Option(help="Artifact digest sha256:<hex>; default: read from the evidence.")] = None,
    evidence: Annotated[Optional[Path], typer.Option(help="Evidence folder to read artifact.digest from.")] = None,
    signer: Annotated[Optional[str], typer.Option(help="Signer identity; default: the name the trust data gives this key.")] = None,
    policy_dir: Annotated[Optional[Path], typer.Option(help="Policy folder holding the trust data.")] = None,
    comment: Annotated[str, typer.Option(help="Free text kept in the statement.")] = "",
    out: Annotated[Optional[Path], typer.Option(help="Write the envelope here instead of stdout.")] = None,
) -> None:
    """Sign off MODEL VERSION in ROLE: a DSSE envelope whose subject is the artifact digest."""
    from .paths import default_evidence_dir

    try:
        private = load_signer(key)
        lifetime = parse_duration(expires)
    except SigningError as exc:
        raise _fail(str(exc)) from None
    artifact_digest = digest or _artifact_digest(evidence or default_evidence_dir(), model, version)
    who = signer or _signer_name(private.public_key.keyid, signers_file(policy_dir))
    if not who:
        raise _fail(f"key {private.public_key.keyid[:12]}… is not in {signers_file(policy_dir)}; pass --signer or add the key")
    predicate = signoff_predicate(model=model, version=version, role=role, signer=who, expires=lifetime, comment=comment)
    try:
        envelope = sign_statement(
            predicate_type=SIGNOFF_PREDICATE, subject_name=f"models:/{model}/{version}",
            digest=artifact_digest, predicate=predicate, signer=private,
        )
    except SigningError as exc:
        raise _fail(str(exc)) from None
    write_envelope(envelope, out)


@app.command("verify")
def verify(
    envelope: Annotated[Path, typer.Argument(help="A sign-off or waiver envelope (.dsse.json).")],
    policy_dir: Annotated[Optional[Path], typer.Option(help="Policy folder holding the trust data.")] = None,
    digest: Annotated[Optional[str], typer.Option(help="Also require this artifact digest as subject.")] = None,
) -> None:
    """Check an envelope's signature against the trusted keys; print what it states."""
    verify_envelope_file(envelope, policy_dir, digest)


def verify_envelope_file(envelope: Path, policy_dir: Path | None, digest: str | None) -> None:
    try:
        raw = envelope.read_bytes()
    except OSError as exc:
        raise _fail(f"{envelope}: {exc.strerror}") from None
    try:
        trust = TrustStore.from_file(signers_file(policy_dir))
    except SigningError as exc:
        raise _fail(str(exc)) from None
    facts = verify_statement(raw, str(envelope), trust)
    if facts["predicate_type"] is None:
        raise _fail(f"{envelope}: {facts['error']}")
    typer.echo(json.dumps(facts, indent=2))
    if not facts["signature_valid"]:
        typer.echo(f"gatekeeper: {envelope}: {facts['error']}", err=True)
        raise typer.Exit(1)
    if digest and digest not in facts["subject_digests"]:
        typer.echo(f"gatekeeper: {envelope}: subject is {', '.join(facts['subject_digests'])}, not {digest}", err=True)
        raise typer.Exit(1)
