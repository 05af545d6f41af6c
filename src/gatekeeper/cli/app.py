"""`gatekeeper`: the CLI front door. Wiring only: each verb group lives in its own module.

Exit codes (README "The CLI" and "The webhook"): 0 all admitted, 1 something denied, 2 could not evaluate, with a
one-line reason on stderr. No traceback ever reaches a user.
"""

from __future__ import annotations

import sys

import typer

from gatekeeper.cli import audit, evidence, policy, report, signing
from gatekeeper.cli.check import check
from gatekeeper.cli.console import console
from gatekeeper.cli.inventory import inventory
from gatekeeper.cli.keygen import keygen
from gatekeeper.cli.monitor import monitor
from gatekeeper.cli.serve import serve

app = typer.Typer(
    help="Model Gatekeeper: policy-as-code admission gate for ML model deployments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(check)
app.command()(serve)
app.command()(console)
app.command()(monitor)
app.command()(inventory)
app.command()(keygen)
app.add_typer(signing.app, name="signoff")
app.add_typer(audit.app, name="audit")
app.add_typer(policy.app, name="policy")
app.add_typer(evidence.app, name="evidence")
app.add_typer(signing.waiver_app, name="waiver")
app.add_typer(report.app, name="report")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last line of defence: never a traceback to a user
        typer.echo(f"gatekeeper: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
