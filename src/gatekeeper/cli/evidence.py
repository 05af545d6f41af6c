"""`gatekeeper evidence init|publish|fairness|digest|lineage|data-quality|drift|explain|pii`: start,
produce and publish evidence bundles.

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

app = typer.Typer(help="Start a bundle (init), produce evidence (lineage, data quality, drift, explanations, PII, "
                  "fairness, artifact digest) and publish bundles to MLflow.",
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


@app.command("init")
def init(
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[str, typer.Argument(help="Model version.")],
    risk_class: Annotated[str, typer.Option(help="minimal | limited | high (the classification register may "
                                                 "raise it, never lower it).")],
    owner: Annotated[str, typer.Option(help="Who answers for the model (an e-mail address or team).")],
    bundle: Annotated[Optional[Path], typer.Option(
        help="Folder to create evidence.yaml in: <evidence root>/<model>/<version> for `check --evidence`.")] = None,
    mlflow: Annotated[Optional[str], typer.Option(
        help="MLflow tracking URL: tag the registered version with the risk class and owner (and, with --bundle, "
             "start the local bundle from what MLflow knows: artifact.uri, lineage.run_id).")] = None,
    model_card: Annotated[Optional[Path], typer.Option(
        help="The model card (Markdown): copied into the bundle as model-card.md.")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing evidence.yaml.")] = False,
) -> None:
    """Start the evidence of MODEL VERSION: the skeleton the producers then fill (`--bundle DIR`)."""
    from gatekeeper.types.bundle import API_VERSION, KIND, BundleFileError, validate_bundle
    from gatekeeper.types.decision import RISK_CLASSES
    from gatekeeper.types.names import model_ref_problem

    problem = model_ref_problem(model, version, None)
    if problem:
        raise fail(f"{model} version {version}: {problem}")
    if risk_class not in RISK_CLASSES or risk_class == "prohibited":
        raise fail(f"--risk-class '{risk_class}' is not one of {', '.join(c for c in RISK_CLASSES if c != 'prohibited')}")
    if not owner.strip():
        raise fail("--owner names nobody")
    if bundle is None and mlflow is None:
        raise fail("give --bundle DIR (a local bundle for the producers) or --mlflow URL (or both)")
    target = bundle / "evidence.yaml" if bundle is not None else None
    if target is not None and target.exists() and not force:
        raise fail(f"{target} already exists; the producers fill it (--force starts it over)")
    if model_card is not None and bundle is None:
        raise fail("--model-card needs --bundle (it is copied into the bundle folder)")
    try:
        card = model_card.read_bytes() if model_card is not None else None
    except OSError as exc:
        raise fail(f"{model_card}: {exc.strerror or exc}") from None
    raw = {"apiVersion": API_VERSION, "kind": KIND, "model": model, "version": version, "risk_class": risk_class,
           "owner": owner.strip()}
    if mlflow is not None:
        from gatekeeper.evidence.mlflow.publish import PublishError, init_version

        try:
            done = init_version(mlflow, model, version, {"risk_class": risk_class, "owner": owner.strip()})
        except PublishError as exc:
            raise fail(str(exc)) from None
        typer.echo(f"tagged {model} version {version} in {mlflow.rstrip('/')}: {', '.join(done.tags)}", err=True)
        if done.artifact_uri:
            raw["artifact"] = {"uri": done.artifact_uri}
        raw["lineage"] = {"run_id": done.run_id}
    if target is None:
        return
    try:
        validate_bundle(raw, target)
    except BundleFileError as exc:
        raise fail(str(exc)) from None
    if card is not None:
        raw["model_card"] = {"path": "model-card.md"}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if card is not None:
            (target.parent / "model-card.md").write_bytes(card)
        target.write_text(yaml.safe_dump(raw, sort_keys=False))
    except OSError as exc:
        raise fail(f"{target}: {exc.strerror or exc}") from None
    typer.echo(f"wrote {target}; fill it with `gatekeeper evidence <producer> ... --bundle {bundle}`", err=True)
    typer.echo(yaml.safe_dump(raw, sort_keys=False), nl=False)


@app.command("fairness")
def fairness(
    predictions: Annotated[Path, typer.Option(help="Predictions table: CSV, TSV, JSON Lines or Parquet.")],
    label: Annotated[str, typer.Option(help="Column with the true outcome.")],
    prediction: Annotated[str, typer.Option(help="Column with the model's prediction.")],
    sensitive: Annotated[str, typer.Option(help="Sensitive attribute column(s), comma-separated.")],
    favourable: Annotated[Optional[str], typer.Option(
        "--favourable", "--pos-label",
        help="The favourable outcome (the value of --label and --prediction that is good for the person, e.g. 0 "
             "when 1 means default). Required: selection rates are rates of this value.")] = None,
    bundle: Annotated[Optional[Path], typer.Option(help="Write the block into this evidence.yaml (or folder).")] = None,
) -> None:
    """Compute the fairness block per sensitive attribute with Fairlearn (optional extra `fairness`).

    Records the favourable outcome, each group's selection rate and evaluated_at beside the metrics.
    """
    from gatekeeper.evidence.fairness import FairnessError, compute_fairness, read_predictions, write_fairness

    columns = [c.strip() for c in sensitive.split(",") if c.strip()]
    if not columns:
        raise fail("--sensitive names no column")
    try:
        frame = read_predictions(predictions)
        block = compute_fairness(frame, label=label, prediction=prediction, sensitive=columns,
                                 favourable=favourable)
        if bundle is not None:
            written = write_fairness(bundle, block)
            typer.echo(f"wrote fairness for {', '.join(block)} into {written}", err=True)
    except FairnessError as exc:
        raise fail(str(exc)) from None
    typer.echo(yaml.safe_dump({"fairness": block}, sort_keys=False), nl=False)


@app.command("digest")
def digest(
    target: Annotated[str, typer.Argument(
        metavar="PATH|models:/NAME/VERSION",
        help="Model folder (or single file) to hash: the folder the serving runtime's storageUri points at "
             "(for an MLflow model, the one holding MLmodel); or, with --mlflow, a registered version.")],
    mlflow: Annotated[Optional[str], typer.Option(
        help="MLflow tracking URL: fetch the registered version models:/NAME/VERSION from its storage location.")] = None,
    bundle: Annotated[Optional[Path], typer.Option(help="Also set artifact.digest in this evidence.yaml (or folder).")] = None,
    show_manifest: Annotated[bool, typer.Option("--manifest", help="Print every file's digest as JSON too.")] = False,
) -> None:
    """The artifact digest of a model, computed as a model-signing manifest does.

    With --mlflow, the version's storage location is downloaded as a serving runtime loads it
    (without the registered_model_meta file MLflow adds to a models:/ download) and hashed.
    """
    import tempfile

    from gatekeeper.evidence.signing.digest import DigestError, manifest, manifest_digest

    if target.startswith("models:/") and mlflow is None:
        raise fail(f"{target} is a registry reference: add --mlflow URL to fetch it")
    with tempfile.TemporaryDirectory(prefix="gatekeeper-digest-") as tmp:
        path = Path(target)
        if mlflow is not None:
            from gatekeeper.evidence.mlflow.download import DownloadError, download_version

            try:
                location, path = download_version(mlflow, target, Path(tmp))
            except DownloadError as exc:
                raise fail(str(exc)) from None
            typer.echo(f"hashed {location}, the storage location of {target}", err=True)
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
    from gatekeeper.evidence.producers.common import ProducerError, write_block
    from gatekeeper.types.bundle import BundleFileError, bundle_path, read_bundle_yaml

    target = bundle_path(bundle)
    try:
        before = read_bundle_yaml(target)
        write_block(bundle, "artifact", {"digest": value}, merge=True)
    except (BundleFileError, ProducerError) as exc:
        raise fail(str(exc)) from None
    previous = (before.get("artifact") or {}).get("digest") if isinstance(before.get("artifact"), dict) else None
    signed = before.get("signoffs") or any((target.parent / "signoffs").glob("*.json"))
    if previous and previous != value and signed:
        typer.echo(f"set artifact.digest in {target} (was {previous}); its sign-offs are bound to the old digest "
                   "and no longer count", err=True)
    else:
        typer.echo(f"set artifact.digest in {target}", err=True)


# --- producers: the outputs of the tools data scientists run (gatekeeper.evidence.producers) ----


_BUNDLE_HELP = "Write the block into this evidence.yaml (or its folder)."


def _produce(what: str, compute, write=None, bundle: Optional[Path] = None, key: str = "") -> None:
    """Run a producer: print its block as YAML; with --bundle, write it there first. One line on failure."""
    from gatekeeper.evidence.producers.common import ProducerError

    try:
        block = compute()
        if bundle is not None and write is not None:
            written = write(bundle, block)
            typer.echo(f"wrote {key} into {written}", err=True)
    except ProducerError as exc:
        raise fail(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - the tool library failing on this input, not a bug to trace
        first = (str(exc).strip().splitlines() or [""])[0]
        raise fail(f"{what} failed: {type(exc).__name__}: {first}") from None
    typer.echo(yaml.safe_dump({key: block}, sort_keys=False), nl=False)


@app.command("lineage")
def lineage(
    dvc: Annotated[Path, typer.Option(help="dvc.lock, a .dvc file, or a DVC project folder (all of them).")],
    context: Annotated[list[str], typer.Option(
        help="Context of a dataset: NAME=CONTEXT (NAME as listed, relative to the DVC project, e.g. "
             "data/train.csv=training), or CONTEXT for every dataset not named. Repeatable; every dataset needs "
             "one.")] = [],  # noqa: B006
    run_id: Annotated[Optional[str], typer.Option(help="Also set lineage.run_id (e.g. the MLflow run).")] = None,
    bundle: Annotated[Optional[Path], typer.Option(help=_BUNDLE_HELP)] = None,
) -> None:
    """lineage.datasets from the md5 digests DVC recorded, and lineage.code_commit from git HEAD.

    Reads DVC's documented file format (no dvc library needed). Digests keep DVC's
    algorithm: md5:<hash>, with .dir for a folder. Datasets are named by their path in the
    DVC project, so reading a file and then the project records each once.
    """
    from gatekeeper.evidence.producers.lineage import lineage_block, write_lineage

    _produce(f"reading {dvc}", lambda: lineage_block(dvc, contexts=context, run_id=run_id), write_lineage, bundle,
             "lineage")


@app.command("data-quality")
def data_quality(
    great_expectations: Annotated[Path, typer.Option(
        "--great-expectations", help="A Great Expectations validation or checkpoint result (JSON).")],
    data: Annotated[Optional[Path], typer.Option(help="The validated data file, to record its sha256.")] = None,
    bundle: Annotated[Optional[Path], typer.Option(help=_BUNDLE_HELP)] = None,
) -> None:
    """data_quality from a Great Expectations result: suite, success %, failed expectations."""
    from gatekeeper.evidence.producers.data_quality import data_quality_block, write_data_quality

    _produce(f"reading {great_expectations}", lambda: data_quality_block(great_expectations, data),
             write_data_quality, bundle, "data_quality")


@app.command("drift")
def drift(
    reference: Annotated[Optional[Path], typer.Option(
        help="Reference table (training data): CSV, TSV, Parquet or JSON Lines.")] = None,
    current: Annotated[Optional[Path], typer.Option(
        help="Current table (recent inputs): CSV, TSV, Parquet or JSON Lines.")] = None,
    columns: Annotated[Optional[str], typer.Option(
        help="Columns to compare, comma-separated (default: all but --exclude and free-text columns).")] = None,
    exclude: Annotated[Optional[str], typer.Option(
        help="Columns never to compare, comma-separated: the label, IDs (used without --columns).")] = None,
    report: Annotated[Optional[Path], typer.Option(help="A saved Evidently report (JSON) instead of the tables.")] = None,
    bundle: Annotated[Optional[Path], typer.Option(help=_BUNDLE_HELP)] = None,
) -> None:
    """drift from Evidently's DataDriftPreset: share of drifted columns and which (extra `drift`)."""
    from gatekeeper.evidence.producers.common import split_columns
    from gatekeeper.evidence.producers.drift import drift_from_report, drift_from_tables, write_drift

    if report is not None and (reference or current):
        raise fail("give either --report or --reference and --current, not both")
    if columns and exclude:
        raise fail("--columns and --exclude are alternatives; give one")
    if report is None and not (reference and current):
        raise fail("--reference and --current are both needed (or --report)")
    if report is not None:
        _produce(f"reading {report}", lambda: drift_from_report(report), write_drift, bundle, "drift")
    else:
        _produce(f"Evidently on {reference} and {current}",
                 lambda: drift_from_tables(reference, current, split_columns(columns), split_columns(exclude),
                                           note=lambda line: typer.echo(f"gatekeeper: note: {line}", err=True)),
                 write_drift, bundle, "drift")


@app.command("explain")
def explain(
    model: Annotated[Optional[Path], typer.Option(
        help="A scikit-learn model: joblib/pickle file or MLflow model folder. Loading it runs the code "
             "pickled in it: use it for your own artifacts only.")] = None,
    data: Annotated[Optional[Path], typer.Option(help="Rows to explain (CSV or Parquet), the model's features.")] = None,
    columns: Annotated[Optional[str], typer.Option(help="Feature columns, comma-separated (default: all).")] = None,
    shap_values: Annotated[Optional[Path], typer.Option(
        help="Saved SHAP values instead: a table with one column per feature.")] = None,
    bundle: Annotated[Optional[Path], typer.Option(help="Write the report beside this evidence.yaml and point "
                                                        "explainability at it.")] = None,
) -> None:
    """SHAP global feature importance (mean |SHAP value| per feature) as the explainability report.

    Loading a model file unpickles it, which runs code: only for your own artifacts (extra `explain`).
    """
    from gatekeeper.evidence.producers.common import split_columns
    from gatekeeper.evidence.producers.explain import importance_from_model, importance_from_values, write_explanation

    if shap_values is not None and (model or data):
        raise fail("give either --shap-values or --model and --data, not both")
    if shap_values is None and not (model and data):
        raise fail("--model and --data are both needed (or --shap-values)")
    if shap_values is not None:
        compute = lambda: importance_from_values(shap_values, split_columns(columns))  # noqa: E731
    else:
        compute = lambda: importance_from_model(model, data, split_columns(columns))  # noqa: E731
    _produce("SHAP", compute, write_explanation, bundle, "explainability_report")


@app.command("pii")
def pii(
    data: Annotated[Path, typer.Option(help="Table to scan: CSV, TSV, JSON Lines or Parquet.")],
    columns: Annotated[Optional[str], typer.Option(help="Columns to scan, comma-separated (default: every column, numbers included).")] = None,
    min_score: Annotated[float, typer.Option(help="Lowest Presidio score that counts as a finding.")] = 0.4,
    bundle: Annotated[Optional[Path], typer.Option(help=_BUNDLE_HELP)] = None,
) -> None:
    """pii_scan from Presidio's pattern recognizers (offline: no NLP model), counts per entity type (extra `pii`)."""
    from gatekeeper.evidence.producers.common import split_columns
    from gatekeeper.evidence.producers.pii import scan_table, write_pii

    _produce(f"Presidio on {data}", lambda: scan_table(data, split_columns(columns), min_score), write_pii, bundle,
             "pii_scan")
