"""`gatekeeper signoff create|verify`: signed human sign-offs bound to an artifact digest."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
import yaml

from gatekeeper.evidence.signing.statements import (
    SIGNOFF_PREDICATE,
    WAIVER_PREDICATE,
    SigningError,
    Statement,
    Subject,
    load_signer,
    parse_duration,
    rfc3339,
    sign_envelope,
    sign_statement,
    signoff_predicate,
    verify_statement,
)
from gatekeeper.evidence.signing.trust import TrustStore
from gatekeeper.cli.common import as_of, evidence_folder, fail, policy_folder
from gatekeeper.types.policy_facts import PolicyFacts

app = typer.Typer(help="Create and verify signed sign-offs (DSSE envelopes of in-toto Statement v1).", no_args_is_help=True)


def signers_file(policy_dir: Path | None) -> Path:
    """The trust data in POLICY_DIR; None: the folder --policy-dir would default to (said on stderr)."""
    return policy_folder(policy_dir) / "gatekeeper" / "signers" / "signers.yaml"


def _name_for_key(keyid: str, signers: dict[str, Any]) -> str | None:
    """The name the signers document gives the holder of keyid."""
    for signer in signers.get("signers") or []:
        if any(key.get("keyid") == keyid for key in signer.get("keys") or []):
            return signer.get("name")
    return None


def _policy_facts(policy_dir: Path | None, opa_url: str | None) -> PolicyFacts:
    """The policy facts as OPA evaluates them: from the OPA at opa_url, or from one started
    here on the policy folder. Exit 2 naming OPA when it cannot answer."""
    from gatekeeper.opa.client import PolicyEngine, PolicyError
    from gatekeeper.opa.server import OpaServer, OpaStartError

    async def ask(url: str) -> PolicyFacts:
        engine = PolicyEngine(url)
        try:
            return await engine.facts()
        finally:
            await engine.close()

    try:
        if opa_url:
            return asyncio.run(ask(opa_url))
        with OpaServer(policy_folder(policy_dir)) as server:
            return asyncio.run(ask(server.url))
    except (OpaStartError, PolicyError, ValueError) as exc:
        raise fail(str(exc)) from None


def _load_evidence(evidence: Path | None, model: str, version: str, mlflow: str | None = None) -> Any:
    """The evidence of MODEL VERSION (LoadedEvidence) as the gate reads it, from MLflow or the
    evidence folder; exit 2 when there is none."""
    from gatekeeper.evidence.source import EvidenceError
    from gatekeeper.types.decision import ModelRef

    async def load() -> Any:
        if mlflow:
            from gatekeeper.evidence.mlflow.source import MlflowEvidenceSource

            source: Any = MlflowEvidenceSource(mlflow, timeout=10.0)
        else:
            from gatekeeper.evidence.files import FileEvidenceSource

            source = FileEvidenceSource(evidence_folder(evidence))
        try:
            return await source.load(ModelRef(ref=f"models:/{model}/{version}", name=model, version=version))
        finally:
            await source.close()

    try:
        return asyncio.run(load())
    except (EvidenceError, ValueError) as exc:
        raise fail(str(exc)) from None


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
    expires: Annotated[str, typer.Option(help="Validity, e.g. 180d, 12h (at most the role's max_validity_days).")] = "180d",
    digest: Annotated[Optional[str], typer.Option(help="Expected artifact digest sha256:<hex>: refused unless the evidence names it.")] = None,
    evidence: Annotated[Optional[Path], typer.Option(help="Evidence folder holding the version reviewed.")] = None,
    mlflow: Annotated[Optional[str], typer.Option(help="MLflow tracking URL holding the version reviewed.")] = None,
    signer: Annotated[Optional[str], typer.Option(help="Signer identity; default: the name the trust data gives this key.")] = None,
    policy_dir: Annotated[Optional[Path], typer.Option(help="Policy folder holding the trust data and the matrix.")] = None,
    opa_url: Annotated[Optional[str], typer.Option(
        help="Ask this OPA for the role's settings and the signers (default: start one on the policy folder).")] = None,
    comment: Annotated[str, typer.Option(help="Free text kept in the statement.")] = "",
    out: Annotated[Optional[Path], typer.Option(help="Write the envelope here instead of stdout.")] = None,
) -> None:
    """Sign off MODEL VERSION in ROLE: a DSSE envelope binding the artifact digest and location
    and the digest of each evidence section the role reviews (the matrix's signoff_roles)."""
    from gatekeeper.evidence.sections import review, reviewed_sections

    if evidence and mlflow:
        raise fail("--evidence and --mlflow are alternatives; give one")
    try:
        private = load_signer(key)
        lifetime = positive_duration(expires)
    except SigningError as exc:
        raise fail(str(exc)) from None
    loaded = _load_evidence(evidence, model, version, mlflow)
    artifact_digest = loaded.bundle.artifact.digest if loaded.bundle.artifact else None
    if not artifact_digest:
        raise fail(f"{loaded.location}: artifact.digest is not set; sign-offs bind to it")
    if digest and digest != artifact_digest:
        raise fail(f"--digest {digest} is not the artifact digest {loaded.location} names ({artifact_digest})")
    # The role's settings and the signers as the policy reads them, never re-read from the YAML.
    facts = _policy_facts(policy_dir, opa_url)
    settings = facts.signoff_role(role)
    limit = settings.get("max_validity_days")
    if isinstance(limit, (int, float)) and lifetime > timedelta(days=limit):
        raise fail(f"--expires {expires} is longer than a {role} sign-off may be valid ({limit:g} days, "
                   "signoff_roles in the requirement matrix)")
    who = signer or _name_for_key(private.public_key.keyid, facts.signers)
    if not who:
        where = opa_url or signers_file(policy_dir)
        raise fail(f"key {private.public_key.keyid[:12]}… is not in {where}; pass --signer or add the key")
    reviewed = review(loaded.bundle, loaded.files, reviewed_sections(settings))
    predicate = signoff_predicate(model=model, version=version, role=role, signer=who, expires=lifetime,
                                  reviewed=reviewed, comment=comment)
    try:
        envelope = sign_statement(
            predicate_type=SIGNOFF_PREDICATE, subject_name=f"models:/{model}/{version}",
            digest=artifact_digest, predicate=predicate, signer=private,
        )
    except SigningError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"gatekeeper: {role} sign-off of {model}@{version} covers artifact {artifact_digest} at "
               f"{reviewed['artifact_uri']} and sections {', '.join(reviewed['sections']) or 'none'}", err=True)
    write_envelope(envelope, out)


@app.command("verify")
def verify(
    envelope: Annotated[Path, typer.Argument(help="A sign-off or waiver envelope (.dsse.json).")],
    policy_dir: Annotated[Optional[Path], typer.Option(help="Policy folder holding the trust data.")] = None,
    digest: Annotated[Optional[str], typer.Option(help="Also require this artifact digest as subject.")] = None,
    evidence: Annotated[Optional[Path], typer.Option(
        help="Also compare what the sign-off reviewed with this evidence folder as it is now.")] = None,
    at: Annotated[Optional[str], typer.Option(help="Judge validity at this RFC3339 time instead of now.")] = None,
) -> None:
    """Check an envelope's signature against the trusted keys and its validity; print what it states
    and what it covers.

    Exit 0: signed by a trusted key, in force and (with --evidence) unchanged; 1: untrusted, another
    subject, expired, not yet valid, or changed since signing.
    """
    facts = verify_envelope_file(envelope, policy_dir, digest, as_of(at))
    reviewed = facts["predicate"].get("reviewed")
    if not isinstance(reviewed, dict):
        typer.echo(f"gatekeeper: {envelope}: names no reviewed evidence (made before sign-offs covered sections)",
                   err=True)
        raise typer.Exit(1)
    sections = reviewed.get("sections") or {}
    typer.echo(f"gatekeeper: covers artifact {', '.join(facts['subject_digests'])} at {reviewed.get('artifact_uri')} "
               f"and sections {', '.join(sections) or 'none'}", err=True)
    if evidence is not None:
        _compare_with_evidence(envelope, facts["predicate"], reviewed, evidence)


def _compare_with_evidence(envelope: Path, predicate: dict[str, Any], reviewed: dict[str, Any], evidence: Path) -> None:
    """Exit 1 naming what changed in the evidence since the sign-off was made."""
    from gatekeeper.evidence.sections import section_digests

    loaded = _load_evidence(evidence, str(predicate.get("model")), str(predicate.get("version")))
    now = section_digests(loaded.bundle, loaded.files)
    uri = loaded.bundle.artifact.uri if loaded.bundle.artifact else None
    changed = [name for name, digest in (reviewed.get("sections") or {}).items() if now.get(name) != digest]
    if uri != reviewed.get("artifact_uri"):
        changed.insert(0, f"artifact location (signed {reviewed.get('artifact_uri')}, now {uri})")
    if changed:
        typer.echo(f"gatekeeper: {envelope}: changed since signing: {', '.join(changed)}", err=True)
        raise typer.Exit(1)
    typer.echo(f"gatekeeper: {loaded.location} is as it was signed", err=True)


def positive_duration(text: str) -> timedelta:
    """--expires of a sign-off or waiver: a statement already expired when written is refused."""
    lifetime = parse_duration(text)
    if lifetime <= timedelta(0):
        raise SigningError(f"--expires must be a positive duration (got {text!r})")
    return lifetime


def validity_problem(predicate: dict[str, Any], now: datetime) -> str | None:
    """Why a signed statement is not in force at `now` (the one rule of sign-offs and waivers), or None."""
    times = {}
    for field in ("signed_at", "expires_at"):
        try:
            times[field] = datetime.fromisoformat(str(predicate.get(field)).replace("Z", "+00:00"))
        except ValueError:
            return f"{field} {predicate.get(field)!r} is not an RFC3339 time"
    if times["signed_at"] > now:
        return f"not yet valid: signed_at {predicate['signed_at']} is in the future"
    if times["expires_at"] <= now:
        return f"expired on {predicate['expires_at']}"
    return None


def statement_facts(envelope: Path, policy_dir: Path | None) -> dict[str, Any]:
    """What a signed statement says and whether a trusted key signed it; exit 2 when unreadable."""
    try:
        raw = envelope.read_bytes()
    except OSError as exc:
        raise fail(f"{envelope}: {exc.strerror}") from None
    try:
        trust = TrustStore.from_file(signers_file(policy_dir))
    except SigningError as exc:
        raise fail(str(exc)) from None
    facts = verify_statement(raw, str(envelope), trust)
    if facts["predicate_type"] is None:
        raise fail(f"{envelope}: {facts['error']}")
    return facts


def verify_envelope_file(envelope: Path, policy_dir: Path | None, digest: str | None,
                         now: datetime | None = None) -> dict[str, Any]:
    facts = statement_facts(envelope, policy_dir)
    typer.echo(json.dumps(facts, indent=2))
    if not facts["signature_valid"]:
        typer.echo(f"gatekeeper: {envelope}: {facts['error']}", err=True)
        raise typer.Exit(1)
    if digest and digest not in facts["subject_digests"]:
        typer.echo(f"gatekeeper: {envelope}: subject is {', '.join(facts['subject_digests'])}, not {digest}", err=True)
        raise typer.Exit(1)
    problem = validity_problem(facts["predicate"] or {}, now or datetime.now(timezone.utc))
    if problem:
        typer.echo(f"gatekeeper: {envelope}: {problem}", err=True)
        raise typer.Exit(1)
    return facts


# --- waivers ------------------------------------------------------------------------------

waiver_app = typer.Typer(
    help="Create and verify signed waivers: one requirement, one model, some versions, until an expiry.",
    no_args_is_help=True,
)

_REQUIREMENT = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_.]+$")


def parse_versions(text: str) -> list[str]:
    """'3,4' -> ['3', '4']; '3-5' -> ['3', '4', '5'] (MLflow versions are whole numbers)."""
    versions: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, dash, high = part.partition("-")
        if dash:
            if not (low.isdigit() and high.isdigit()) or int(low) > int(high) or int(high) - int(low) > 1000:
                raise SigningError(f"'{part}' is not a version range like 3-5")
            versions.extend(str(v) for v in range(int(low), int(high) + 1))
        else:
            versions.append(part)
    if not versions:
        raise SigningError("--versions names no version")
    return list(dict.fromkeys(versions))


def _never_waivable(requirement: str, facts: PolicyFacts) -> str | None:
    """Why no waiver may cover requirement (the matrix's never_waivable_prefixes), or None."""
    for prefix in facts.never_waivable_prefixes:
        if requirement.startswith(prefix):
            return f"{prefix.rstrip('.')} requirements can never be waived"
    return None


def _signer_roles(name: str, signers: dict[str, Any]) -> list[str]:
    return [role for signer in signers.get("signers") or [] if signer.get("name") == name
            for role in signer.get("roles") or []]


def _version_digests(model: str, versions: list[str], given: dict[str, str], evidence: Path | None,
                     mlflow: str | None) -> tuple[dict[str, str], list[str]]:
    """The artifact digest of each version that has one (given, MLflow, or the evidence folder)."""
    from gatekeeper.evidence.source import EvidenceError
    from gatekeeper.types.decision import ModelRef

    found = {v: given[v] for v in versions if v in given}
    notes: list[str] = []
    wanted = [v for v in versions if v not in found]
    if wanted:
        if mlflow:
            from gatekeeper.evidence.mlflow.source import MlflowEvidenceSource

            source = MlflowEvidenceSource(mlflow, timeout=10.0)
        else:
            from gatekeeper.evidence.files import EvidenceRootError, FileEvidenceSource

            try:
                source = FileEvidenceSource(evidence_folder(evidence))
            except EvidenceRootError as exc:
                raise fail(str(exc)) from None

        async def lookup(version: str) -> tuple[str, str | None, str | None]:
            try:
                loaded = await source.load(ModelRef(ref=f"models:/{model}/{version}", name=model, version=version))
            except EvidenceError as exc:
                return version, None, exc.message
            digest = loaded.bundle.artifact.digest if loaded.bundle.artifact else None
            return version, digest, None if digest else f"{loaded.location} has no artifact.digest"

        async def lookup_all():
            try:
                return await asyncio.gather(*(lookup(v) for v in wanted))
            finally:
                await source.close()

        for version, digest, problem in asyncio.run(lookup_all()):
            if digest:
                found[version] = digest
            else:
                notes.append(f"version {version}: no artifact digest known ({problem}); a waiver applies only to "
                             "the artifact digest it names: pass --digest VERSION=sha256:<hex>")
    return found, notes


def sign_waiver(*, model: str, digests: dict[str, str], predicate: dict[str, Any], signer: Any) -> dict[str, Any]:
    """A DSSE envelope of an in-toto statement whose subjects are the waived versions' artifacts."""
    subjects = []
    for version, digest in digests.items():
        algorithm, _, value = digest.partition(":")
        if algorithm != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", value):
            raise SigningError(f"version {version}: '{digest}' is not an artifact digest of the form sha256:<64 hex>")
        subjects.append(Subject(name=f"models:/{model}/{version}", digest={"sha256": value}))
    return sign_envelope(Statement(subject=subjects, predicateType=WAIVER_PREDICATE, predicate=predicate), signer)


def waiver_predicate(*, model: str, versions: list[str], requirement: str, reason: str, approver: str,
                     expires: timedelta, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(timezone.utc)
    return {"requirement": requirement, "model": model, "versions": versions, "reason": reason,
            "approver": approver, "signed_at": rfc3339(now), "expires_at": rfc3339(now + expires)}


@waiver_app.command("create")
def waiver_create(
    model: Annotated[str, typer.Option(help="Registered model name.")],
    versions: Annotated[str, typer.Option(help="Versions covered: 3,4 or a range 3-5.")],
    requirement: Annotated[str, typer.Option(help="The one requirement ID waived, e.g. fairness.demographic_parity_ratio.")],
    reason: Annotated[str, typer.Option(help="Why the violation is accepted (kept in the statement, shown in decisions).")],
    key: Annotated[Path, typer.Option(help="Approver's private key (PEM) from `gatekeeper keygen`.")],
    expires: Annotated[str, typer.Option(help="Validity, e.g. 30d, 12h.")] = "30d",
    approver: Annotated[Optional[str], typer.Option(help="Approver identity; default: the name the trust data gives this key.")] = None,
    evidence: Annotated[Optional[Path], typer.Option(help="Evidence folder to read each version's artifact.digest from.")] = None,
    mlflow: Annotated[Optional[str], typer.Option(help="MLflow tracking URL to read each version's artifact.digest from.")] = None,
    digest: Annotated[list[str], typer.Option(help="VERSION=sha256:<hex> artifact digest; repeatable.")] = [],  # noqa: B006
    policy_dir: Annotated[Optional[Path], typer.Option(help="Policy folder holding the trust data.")] = None,
    opa_url: Annotated[Optional[str], typer.Option(
        help="Ask this OPA for the waiver settings and signers (default: start one on the policy folder).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Write the envelope here instead of stdout.")] = None,
) -> None:
    """Sign a waiver: REQUIREMENT's violation becomes a warning for MODEL VERSIONS until it expires."""
    if not _REQUIREMENT.match(requirement):
        raise fail(f"'{requirement}' is not a requirement ID like fairness.demographic_parity_ratio")
    # The waiver settings and signers as the policy reads them, never re-read from the YAML.
    facts = _policy_facts(policy_dir, opa_url)
    refusal = _never_waivable(requirement, facts)
    if refusal:
        raise fail(f"{requirement}: {refusal}")
    if not reason.strip():
        raise fail("--reason must say why the violation is accepted")
    if evidence and mlflow:
        raise fail("--evidence and --mlflow are alternatives; give one")
    try:
        version_list = parse_versions(versions)
        lifetime = positive_duration(expires)
        private = load_signer(key)
        given = {}
        for item in digest:
            version, eq, value = item.partition("=")
            if not eq:
                raise SigningError(f"--digest '{item}' is not VERSION=sha256:<hex>")
            given[version.strip()] = value.strip()
    except SigningError as exc:
        raise fail(str(exc)) from None
    who = approver or _name_for_key(private.public_key.keyid, facts.signers)
    if not who:
        where = opa_url or signers_file(policy_dir)
        raise fail(f"key {private.public_key.keyid[:12]}… is not in {where}; pass --approver or add the key")
    digests, notes = _version_digests(model, version_list, given, evidence, mlflow)
    if not digests:
        raise fail(f"no artifact digest found for {model} versions {', '.join(version_list)}; pass --evidence DIR, "
                    "--mlflow URL or --digest VERSION=sha256:<hex> (a waiver is bound to the artifacts it covers)")
    if notes:
        raise fail(notes[0])
    predicate = waiver_predicate(model=model, versions=version_list, requirement=requirement, reason=reason.strip(),
                                 approver=who, expires=lifetime)
    try:
        envelope = sign_waiver(model=model, digests=digests, predicate=predicate, signer=private)
    except SigningError as exc:
        raise fail(str(exc)) from None
    roles = facts.approver_roles
    if roles and not set(roles) & set(_signer_roles(who, facts.signers)):
        typer.echo(f"gatekeeper: warning: {who} holds none of the approver roles ({', '.join(roles)}); the policy "
                   "will not honour this waiver", err=True)
    write_envelope(envelope, out)


@waiver_app.command("verify")
def waiver_verify(
    envelope: Annotated[Path, typer.Argument(help="A waiver envelope (.dsse.json).")],
    policy_dir: Annotated[Optional[Path], typer.Option(help="Policy folder holding the trust data.")] = None,
    at: Annotated[Optional[str], typer.Option(help="Judge validity at this RFC3339 time instead of now.")] = None,
) -> None:
    """Check a waiver's signature against the trusted keys and its validity; print what it states.

    Exit 0: signed by a trusted key and in force; 1: not a waiver, not trusted, expired or not yet valid.
    """
    facts = statement_facts(envelope, policy_dir)
    predicate = facts["predicate"]
    expires_at = predicate.get("expires_at")
    state = "invalid"
    problem = facts["error"]
    if facts["predicate_type"] != WAIVER_PREDICATE:
        problem = f"not a waiver (predicate type {facts['predicate_type']})"
    elif facts["signature_valid"]:
        problem = validity_problem(predicate, as_of(at))
        state = "active" if problem is None else "expired" if problem.startswith("expired") else "invalid"
    typer.echo(json.dumps({**facts, "state": state}, indent=2))
    if problem:
        typer.echo(f"gatekeeper: {envelope}: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"gatekeeper: waiver of {predicate.get('requirement')} for {predicate.get('model')} versions "
               f"{', '.join(map(str, predicate.get('versions') or []))}, approved by {predicate.get('approver')}, "
               f"in force until {expires_at}", err=True)
