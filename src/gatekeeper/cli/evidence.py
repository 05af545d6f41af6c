"""`gatekeeper evidence publish|fairness|digest`: produce and publish evidence bundles.

Exit codes: 0 done, 2 could not do it (bad input, unreachable registry), with one line
on stderr. Heavy dependencies (Fairlearn, pandas) are imported inside their command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml

from gatekeeper.cli.common import fail

app = typer.Typer(help="Produce evidence (fairness, artifact digest) and publish bundles to MLflow.",
                  no_args_is_help=True)


@app.command("publish")
def publish(
    bundle_dir: Annotated[Path, typer.Argument(help="Bundle folder holding evidence.yaml (or the file itself).")],
    mlflow: Annotated[str, typer.Option(help="MLflow tracking URL.")],
    model: Annotated[Optional[str], typer.Option(help="Registered model name (default: the bundle's).")] = None,
    version: Annotated[Optional[str], typer.Option(help="Model version (default: the bundle's).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each MLflow request.")] = 30.0,
    output_format: Annotated[str, typer.Option("--format", "-f", help="text | json")] = "text",
) -> None:
    """Upload a bundle to a registered MLflow model version so that `--mlflow` reads it back.

    Credentials come from MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD.
    """
    from dataclasses import asdict

    from gatekeeper.evidence.mlflow.publish import PublishError, publish_bundle

    if output_format not in ("text", "json"):
        raise fail(f"unknown format '{output_format}' (choose one of: text, json)")
    try:
        result = publish_bundle(bundle_dir, mlflow, model=model, version=version, timeout=timeout)
    except (PublishError, ValueError) as exc:
        raise fail(str(exc)) from None
    if output_format == "json":
        typer.echo(json.dumps(asdict(result), indent=2))
    else:
        typer.echo(f"published {result.model} version {result.version} to {mlflow.rstrip('/')} (run {result.run_id}): "
                   f"{len(result.tags)} tags, {len(result.metrics)} metrics, {len(result.datasets)} new datasets, "
                   f"{len(result.files)} files")
        for path in result.files:
            typer.echo(f"  gatekeeper/{path}")
    for note in result.notes:
        typer.echo(f"gatekeeper: note: {note}", err=True)


@app.command("fairness")
def fairness(
    predictions: Annotated[Path, typer.Option(help="Predictions table: CSV, TSV, JSON Lines or Parquet.")],
    label: Annotated[str, typer.Option(help="Column with the true outcome.")],
    prediction: Annotated[str, typer.Option(help="Column with the model's prediction.")],
    sensitive: Annotated[str, typer.Option(help="Sensitive attribute column(s), comma-separated.")],
    pos_label: Annotated[Optional[str], typer.Option(help="The favourable outcome, when the columns are not 0/1.")] = None,
    bundle: Annotated[Optional[Path], typer.Option(help="Write the block into this evidence.yaml (or folder).")] = None,
) -> None:
    """Compute the fairness block per sensitive attribute with Fairlearn (optional extra `fairness`)."""
    from gatekeeper.evidence.fairness import FairnessError, compute_fairness, read_predictions, write_fairness

    columns = [c.strip() for c in sensitive.split(",") if c.strip()]
    if not columns:
        raise fail("--sensitive names no column")
    try:
        frame = read_predictions(predictions)
        block = compute_fairness(frame, label=label, prediction=prediction, sensitive=columns, pos_label=pos_label)
        if bundle is not None:
            written = write_fairness(bundle, block)
            typer.echo(f"wrote fairness for {', '.join(block)} into {written}", err=True)
    except FairnessError as exc:
        raise fail(str(exc)) from None
    typer.echo(yaml.safe_dump({"fairness": block}, sort_keys=False), nl=False)


@app.command("digest")
def digest(
    path: Annotated[Path, typer.Argument(help="Model folder (or single file) to hash.")],
    bundle: Annotated[Optional[Path], typer.Option(help="Also set artifact.digest in this evidence.yaml (or folder).")] = None,
    show_manifest: Annotated[bool, typer.Option("--manifest", help="Print every file's digest as JSON too.")] = False,
) -> None:
    """The artifact digest of a local model, computed as a model-signing manifest does."""
    from gatekeeper.evidence.signing.digest import DigestError, manifest, manifest_digest

    try:
        entries = manifest(path)
    except (DigestError, OSError) as exc:
        raise fail(str(exc)) from None
    value = manifest_digest(entries)
    if show_manifest:
        typer.echo(json.dumps({"digest": value, "files": [{"path": e.path, "sha256": e.sha256} for e in entries]},
                              indent=2))
    else:
        typer.echo(value)
    if bundle is not None:
        _set_bundle_digest(bundle, value)


def _set_bundle_digest(bundle: Path, value: str) -> None:
    from pydantic import ValidationError

    from gatekeeper.types.bundle import EvidenceBundle, describe_validation_error

    target = bundle / "evidence.yaml" if bundle.is_dir() else bundle
    try:
        raw = yaml.safe_load(target.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise fail(f"{target}: {exc}") from None
    if not isinstance(raw, dict):
        raise fail(f"{target}: expected an EvidenceBundle mapping")
    raw["artifact"] = {**(raw.get("artifact") or {}), "digest": value}
    try:
        EvidenceBundle.model_validate(raw)
    except ValidationError as exc:
        raise fail(f"{target}: {describe_validation_error(exc)}") from None
    target.write_text(yaml.safe_dump(raw, sort_keys=False))
    typer.echo(f"set artifact.digest in {target}; existing sign-offs bound to another digest no longer count",
               err=True)
