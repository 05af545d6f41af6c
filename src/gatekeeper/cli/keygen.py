"""`gatekeeper keygen`: a signing key for sign-offs and waivers (and its trust-data entry),
or with `--log ORIGIN` the decision log's checkpoint key (and its verifier key)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gatekeeper.cli.common import fail


def keygen(
    out: Annotated[Path, typer.Option(help="Where to write the private key (mode 0600).")],
    name: Annotated[Optional[str], typer.Option(help="The person the key belongs to (e.g. alice@example.com).")] = None,
    role: Annotated[list[str], typer.Option(help="Role this person may sign for; repeatable.")] = [],  # noqa: B006
    log: Annotated[Optional[str], typer.Option(
        "--log", help="Make the decision log's checkpoint key instead, for this log origin "
                      "(e.g. example.com/model-gatekeeper/prod-eu1); prints its verifier key.")] = None,
) -> None:
    """Generate an Ed25519 signing key; print the signers.yaml entry (or, with --log, the verifier key)."""
    if out.exists():
        raise fail(f"{out} exists; refusing to overwrite a private key")
    if log is not None:
        if name is not None or role:
            raise fail("--log makes a log key: --name and --role are for sign-off keys")
        _write(out, *_log_key(log))
        return
    if name is None:
        raise fail("--name is required (or --log ORIGIN for the decision log's key)")
    import yaml

    from gatekeeper.evidence.signing.statements import generate_key

    private_pem, public = generate_key()
    entry = {"name": name, "roles": role, "keys": [public]}
    _write(out, private_pem, "# add to policies/gatekeeper/signers/signers.yaml under `signers:`\n"
                             + yaml.safe_dump([entry], sort_keys=False).rstrip())


def _log_key(origin: str) -> tuple[bytes, str]:
    from gatekeeper.audit.note import NoteError, Signer

    try:
        signer = Signer.generate(origin)
    except NoteError as exc:
        raise fail(f"--log: {exc}") from None
    return (str(signer) + "\n").encode(), str(signer.verifier)


def _write(out: Path, private: bytes, shown: str) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.touch(mode=0o600)
        out.write_bytes(private)
    except OSError as exc:
        raise fail(f"{out}: {exc.strerror}") from None
    typer.echo(shown)
