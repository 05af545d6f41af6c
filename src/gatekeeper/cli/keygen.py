"""`gatekeeper keygen`: a signing key for sign-offs and waivers, and its trust-data entry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gatekeeper.cli.common import fail


def keygen(
    out: Annotated[Path, typer.Option(help="Where to write the private key (PEM, mode 0600).")],
    name: Annotated[str, typer.Option(help="The person the key belongs to (e.g. alice@example.com).")],
    role: Annotated[list[str], typer.Option(help="Role this person may sign for; repeatable.")] = [],  # noqa: B006
) -> None:
    """Generate an Ed25519 signing key; print the signers.yaml entry for its public half."""
    import yaml

    from gatekeeper.evidence.signing.statements import generate_key

    if out.exists():
        raise fail(f"{out} exists; refusing to overwrite a private key")
    private_pem, public = generate_key()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.touch(mode=0o600)
        out.write_bytes(private_pem)
    except OSError as exc:
        raise fail(f"{out}: {exc.strerror}") from None
    entry = {"name": name, "roles": role, "keys": [public]}
    typer.echo("# add to policies/gatekeeper/signers/signers.yaml under `signers:`")
    typer.echo(yaml.safe_dump([entry], sort_keys=False).rstrip())
