"""Regenerate examples/ and the example trusted signers.

Run: .venv/bin/python scripts/make-examples.py
Makes throwaway Ed25519 keys in memory, signs the example sign-offs and waivers with
them, writes the public halves into policies/gatekeeper/signers/signers.yaml and forgets
the private halves: no private key is ever written. Sign-offs are valid for the longest
the matrix allows (signoff_roles: 730 days) and cover the sections their role reviews;
re-run this script to renew them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from securesystemslib.signer import CryptoSigner

from gatekeeper.evidence.sections import review, reviewed_sections, section_files
from gatekeeper.evidence.signing.statements import (
    SIGNOFF_PREDICATE,
    WAIVER_PREDICATE,
    rfc3339,
    sign_statement,
    signoff_predicate,
)
from gatekeeper.types.bundle import EvidenceBundle

ROOT = Path(__file__).resolve().parents[1]
EVIDENCE = ROOT / "examples" / "evidence"
MANIFESTS = ROOT / "examples" / "manifests"
SIGNERS = ROOT / "policies" / "gatekeeper" / "signers" / "signers.yaml"
MATRIX = ROOT / "policies" / "gatekeeper" / "matrix" / "requirements.yaml"
LIFETIME = timedelta(days=730)  # the matrix's signoff_roles.default.max_validity_days
# One signing moment for every example sign-off, so regenerating the examples keeps their
# expiry (2028-11-21T08:25:38Z), which tests and docs name.
SIGNED_AT = datetime(2026, 11, 22, 8, 25, 38, tzinfo=timezone.utc)

PEOPLE = {
    "alice@example.com": ["validator"],
    "bob@example.com": ["compliance"],
    "carol@example.com": [],  # owns churn-predictor; `owner` comes from the bundle
    "dave@example.com": ["validator"],
}
KEYS = {name: CryptoSigner.generate_ed25519() for name in PEOPLE}
CHURN_SCORER = "registry.example.com/churn-scorer"


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


MODEL_CARD_FULL = """# Credit scoring model card

## Intended use
Scores consumer loan applications for default risk; a credit officer reviews every decline.

## Limitations
Not validated for business loans or applicants without credit history.

## Training data
Loan applications 2021-2025 (loans-2025q4), de-identified.

## Evaluation
AUC 0.87 on the 2026Q1 holdout; calibration within 2% per score band.

## Ethics
Protected attributes are excluded from features; fairness measured for sex and age band.
"""

MODEL_CARD_LIMITED = """# Churn predictor model card

## Intended use
Ranks subscribers by churn risk for the retention team's outreach.

## Limitations
Monthly retraining; not for pricing decisions.
"""


# What `gatekeeper evidence fairness --favourable 0` records beside the metrics (0: no default).
FAIRNESS_MEASURED = {"favourable_outcome": "0", "evaluated_at": "2026-11-20T00:00:00Z"}


def data_quality(dataset: str, when: str) -> dict:
    """A passing Great Expectations result, as `gatekeeper evidence data-quality` writes it."""
    return {"tool": "great_expectations", "suite": dataset, "success": True, "success_percent": 100.0,
            "evaluated_expectations": 12, "failed": [], "evaluated_at": when, "dataset_digest": digest_of(dataset)}


def credit_bundle(version: str) -> dict:
    return {
        "apiVersion": "model-gatekeeper.io/v1",
        "kind": "EvidenceBundle",
        "model": "credit-scoring",
        "version": version,
        "risk_class": "high",
        "owner": "risk-analytics@example.com",
        "artifact": {"uri": f"s3://models/credit-scoring/{version}", "digest": digest_of(f"credit-scoring-{version}")},
        "model_card": {"path": "model-card.md"},
        "lineage": {
            "run_id": hashlib.md5(f"run-{version}".encode()).hexdigest(),
            "code_commit": hashlib.sha1(f"commit-{version}".encode()).hexdigest(),
            "datasets": [
                {"name": "loans-2025q4", "digest": digest_of("loans-2025q4"), "context": "training"},
                {"name": "loans-2026q1-holdout", "digest": digest_of("loans-2026q1"), "context": "evaluation"},
            ],
        },
        "performance": {"metrics": {"auc": 0.87, "ks": 0.41}},
        "fairness": {
            "sex": {"demographic_parity_ratio": 0.91, "demographic_parity_difference": 0.04,
                    "equalized_odds_difference": 0.05, "min_group_size": 1200, **FAIRNESS_MEASURED},
            "age_band": {"demographic_parity_ratio": 0.86, "demographic_parity_difference": 0.07,
                         "equalized_odds_difference": 0.08, "min_group_size": 640, **FAIRNESS_MEASURED},
        },
        "explainability": {"method": "shap", "report": "shap-importance.json"},
        "pii_scan": {"tool": "presidio", "scanned_at": "2026-10-01T00:00:00Z",
                     "dataset_digest": digest_of("loans-2025q4"), "open_findings": 0},
        "data_quality": data_quality("loans-2025q4", "2026-10-01T00:00:00Z"),
        "monitoring": {"drift": "enabled", "dashboard": "https://grafana.example.com/d/credit-scoring"},
        "signoffs": ["signoffs/validator.dsse.json", "signoffs/compliance.dsse.json"],
    }


def churn_bundle(version: str) -> dict:
    return {
        "apiVersion": "model-gatekeeper.io/v1",
        "kind": "EvidenceBundle",
        "model": "churn-predictor",
        "version": version,
        "risk_class": "limited",
        "owner": "carol@example.com",
        "artifact": {"uri": f"s3://models/churn-predictor/{version}", "digest": digest_of(f"churn-predictor-{version}")},
        # The scorer image carries the model (the example Deployment names no other location).
        "artifacts": [{"component": "scorer", "image": f"{CHURN_SCORER}@{digest_of(f'churn-scorer-{version}')}"}],
        "model_card": {"path": "model-card.md"},
        "lineage": {
            "run_id": hashlib.md5(f"churn-run-{version}".encode()).hexdigest(),
            "code_commit": hashlib.sha1(f"churn-commit-{version}".encode()).hexdigest(),
            "datasets": [{"name": "subscribers-2026-09", "digest": digest_of("subscribers-2026-09"), "context": "training"}],
        },
        "performance": {"metrics": {"auc": 0.79}},
        "fairness": {"region": {"demographic_parity_ratio": 0.88, "demographic_parity_difference": 0.05,
                                "min_group_size": 5000, **FAIRNESS_MEASURED}},
        "pii_scan": {"tool": "presidio", "scanned_at": "2026-09-15T00:00:00Z",
                     "dataset_digest": digest_of("subscribers-2026-09"), "open_findings": 0},
        "data_quality": data_quality("subscribers-2026-09", "2026-09-15T00:00:00Z"),
        "signoffs": ["signoffs/owner.dsse.json"],
    }


def role_sections(role: str) -> list[str]:
    """The sections a sign-off in role covers, as the shipped matrix says (the gate asks OPA;
    this script reads the file it generates examples for)."""
    roles = yaml.safe_load(MATRIX.read_text()).get("signoff_roles") or {}
    return reviewed_sections({**(roles.get("default") or {}), **(roles.get(role) or {})})


def sign(bundle: dict, role: str, person: str, folder: Path) -> dict:
    parsed = EvidenceBundle.model_validate(bundle)
    files = {}
    for name, value in bundle.items():
        for path in section_files(name, value):
            files[path] = (folder / path).read_bytes() if (folder / path).is_file() else None
    predicate = signoff_predicate(model=bundle["model"], version=bundle["version"], role=role, signer=person,
                                  expires=LIFETIME, reviewed=review(parsed, files, role_sections(role)))
    predicate.update(signed_at=rfc3339(SIGNED_AT), expires_at=rfc3339(SIGNED_AT + LIFETIME))
    return sign_statement(predicate_type=SIGNOFF_PREDICATE, subject_name=f"models:/{bundle['model']}/{bundle['version']}",
                          digest=bundle["artifact"]["digest"], predicate=predicate, signer=KEYS[person])


def write_bundle(bundle: dict, card: str, signers: dict[str, str], extra_files: dict[str, str] | None = None) -> None:
    folder = EVIDENCE / bundle["model"] / bundle["version"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evidence.yaml").write_text(yaml.safe_dump(bundle, sort_keys=False))
    if card:
        (folder / "model-card.md").write_text(card)
    if bundle.get("explainability", {}).get("report") == "shap-importance.json":
        (folder / "shap-importance.json").write_text(json.dumps(
            {"method": "shap", "global_importance": {"bureau_score": 0.41, "income": 0.22, "debt_ratio": 0.18}}, indent=2) + "\n")
    for path, (role, person) in signers.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(json.dumps(sign(bundle, role, person, folder), indent=2) + "\n")
    for path, content in (extra_files or {}).items():
        (folder / path).write_text(content)


def inference_service(name: str, ref: str, storage: str | None, namespace: str = "lending", annotate: bool = True) -> dict:
    obj = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, **({"storageUri": storage} if storage else {})}}},
    }
    if annotate:
        obj["metadata"]["annotations"] = {"model-gatekeeper.io/model": ref}
    return obj


def main() -> None:
    shutil.rmtree(EVIDENCE, ignore_errors=True)
    shutil.rmtree(MANIFESTS, ignore_errors=True)
    high_signoffs = {"signoffs/validator.dsse.json": ("validator", "alice@example.com"),
                     "signoffs/compliance.dsse.json": ("compliance", "bob@example.com")}

    # Compliant models.
    write_bundle(credit_bundle("3"), MODEL_CARD_FULL, high_signoffs)
    write_bundle(churn_bundle("7"), MODEL_CARD_LIMITED, {"signoffs/owner.dsse.json": ("owner", "carol@example.com")})
    (EVIDENCE / "churn-predictor" / "aliases.yaml").write_text("# alias -> version, like a registry's alias table\nchampion: \"7\"\n")

    # One credit-scoring version per requirement family, each failing for one reason.
    failing: dict[str, tuple[str, callable]] = {}

    def variant(version: str, family: str, change, card: str = MODEL_CARD_FULL, signoffs=high_signoffs) -> None:
        bundle = credit_bundle(version)
        change(bundle)
        write_bundle(bundle, card, signoffs)
        failing[family] = version

    variant("4", "fairness", lambda b: b["fairness"]["sex"].update(demographic_parity_ratio=0.62))
    variant("5", "documentation", lambda b: None, card=MODEL_CARD_FULL.split("## Ethics")[0])
    variant("6", "lineage", lambda b: b["lineage"].pop("code_commit"))
    variant("7", "explainability", lambda b: b["explainability"].update(report="missing-report.json"))
    variant("8", "pii", lambda b: b["pii_scan"].update(open_findings=3))
    variant("9", "signoff", lambda b: b.update(signoffs=["signoffs/validator.dsse.json"]),
            signoffs={"signoffs/validator.dsse.json": ("validator", "alice@example.com")})
    variant("10", "monitoring", lambda b: b["monitoring"].update(drift="disabled"))
    variant("11", "performance", lambda b: b.update(performance={"metrics": {}}))
    variant("12", "classification", lambda b: b.update(risk_class="prohibited"))

    compliant = MANIFESTS / "compliant"
    noncompliant = MANIFESTS / "noncompliant"
    compliant.mkdir(parents=True)
    noncompliant.mkdir(parents=True)
    dump = lambda path, *objs: path.write_text("---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objs))  # noqa: E731

    dump(compliant / "credit-scoring-inferenceservice.yaml",
         inference_service("credit-scoring", "models:/credit-scoring/3", "s3://models/credit-scoring/3"))
    dump(compliant / "churn-predictor-seldon-model.yaml", {
        "apiVersion": "mlops.seldon.io/v1alpha1", "kind": "Model",
        "metadata": {"name": "churn-predictor", "namespace": "retention",
                     "annotations": {"model-gatekeeper.io/model": "models:/churn-predictor/7"}},
        "spec": {"storageUri": "s3://models/churn-predictor/7", "requirements": ["sklearn"]},
    })
    dump(compliant / "churn-predictor-deployment.yaml", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "churn-batch-scorer", "namespace": "retention"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "churn-batch-scorer"}},
                 "template": {"metadata": {"labels": {"app": "churn-batch-scorer"},
                                           "annotations": {"model-gatekeeper.io/model": "models:/churn-predictor@champion"}},
                              "spec": {"containers": [{"name": "scorer", "image": f"{CHURN_SCORER}@{digest_of('churn-scorer-7')}"}]}}},
    }, {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "feature-api", "namespace": "retention"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "feature-api"}},
                 "template": {"metadata": {"labels": {"app": "feature-api"}},
                              "spec": {"containers": [{"name": "api", "image": "registry.example.com/feature-api:2"}]}}},
    })

    for family, version in failing.items():
        dump(noncompliant / f"{family}-credit-scoring-{version}.yaml",
             inference_service(f"credit-scoring-v{version}", f"models:/credit-scoring/{version}",
                               f"s3://models/credit-scoring/{version}"))
    dump(noncompliant / "evidence-missing.yaml", inference_service("fraud-detector", "models:/fraud-detector/1", None))
    dump(noncompliant / "evidence-no-model-reference.yaml",
         inference_service("anonymous-model", "", "s3://models/anonymous/1", annotate=False))
    dump(noncompliant / "artifact-storage-mismatch.yaml",
         inference_service("credit-scoring-wrong-artifact", "models:/credit-scoring/3", "s3://models/credit-scoring/2"))

    write_produced_example("13")
    write_admission_reviews()
    write_signers()
    print(f"wrote {EVIDENCE} and {MANIFESTS}; public keys in {SIGNERS}")


def write_produced_example(version: str) -> None:
    """credit-scoring 13: a bundle whose measured evidence the producers wrote, from data made here.

    What a data scientist runs (README, "Evidence from your tools"), as Python calls: DVC lineage,
    a Great Expectations result, Evidently drift, SHAP importance, a Presidio scan, Fairlearn.
    It has no sign-offs yet (signing is the validator's and compliance's step), and its drift
    result is dated today: it turns stale (evidence.stale, max_evidence_age_days.drift) 30 days
    after this script ran.
    Needs the `test` extra (dvc, great-expectations, evidently, shap, presidio-analyzer).
    """
    import sys
    import tempfile

    import joblib
    from sklearn.ensemble import RandomForestClassifier

    from gatekeeper.evidence.fairness import compute_fairness, write_fairness
    from gatekeeper.evidence.producers import data_quality, drift, explain, lineage, pii

    sys.path.insert(0, str(ROOT))
    from tests.producers.data import dvc_project, ge_result, labelled, loans

    folder = EVIDENCE / "credit-scoring" / version
    bundle = credit_bundle(version)
    for key in ("lineage", "fairness", "explainability", "pii_scan", "data_quality", "monitoring"):
        bundle.pop(key)
    bundle.update(signoffs=[], lineage={"run_id": hashlib.md5(f"run-{version}".encode()).hexdigest()})
    write_bundle(bundle, MODEL_CARD_FULL, {})
    features = ["income", "debt_ratio", "bureau_score", "age"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        project = dvc_project(work / "project")  # data/loans.csv (dvc add), data/train.csv (dvc repro)
        lineage.write_lineage(folder, lineage.lineage_block(project, contexts=["training"]))
        training = labelled(2000, seed=3)
        training.to_csv(work / "train.csv", index=False)
        (work / "validation.json").write_text(json.dumps(ge_result(training)))
        data_quality.write_data_quality(folder, data_quality.data_quality_block(work / "validation.json",
                                                                                work / "train.csv"))
        loans(2000, seed=4).to_csv(work / "current.csv", index=False)
        drift.write_drift(folder, drift.drift_from_tables(work / "train.csv", work / "current.csv",
                                                          exclude=["default"]))
        model = RandomForestClassifier(n_estimators=30, max_depth=5, random_state=0).fit(training[features],
                                                                                          training["default"])
        joblib.dump(model, work / "model.joblib")
        explain.write_explanation(folder, explain.importance_from_model(work / "model.joblib", work / "train.csv"))
        customers = training.assign(note=[f"applied online, ref {i}" for i in range(len(training))])
        customers.to_csv(work / "customers.csv", index=False)
        pii.write_pii(folder, pii.scan_table(work / "customers.csv", ["note"]))
        predictions = training.assign(prediction=model.predict(training[features]),
                                      sex=["F", "M"] * (len(training) // 2))
        write_fairness(folder, compute_fairness(predictions, label="default", prediction="prediction",
                                                sensitive=["sex"], favourable="0"))


def write_admission_reviews() -> None:
    """Ready-to-paste AdmissionReviews for `make run`: one admitted, one denied."""
    folder = ROOT / "examples" / "admission"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, manifest in (("admitted", MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml"),
                           ("denied", MANIFESTS / "noncompliant" / "fairness-credit-scoring-4.yaml")):
        obj = yaml.safe_load(manifest.read_text())
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": f"example-{name}", "operation": "CREATE",
            "kind": {"group": "serving.kserve.io", "version": "v1beta1", "kind": "InferenceService"},
            "resource": {"group": "serving.kserve.io", "version": "v1beta1", "resource": "inferenceservices"},
            "namespace": obj["metadata"]["namespace"], "name": obj["metadata"]["name"],
            "userInfo": {"username": "alice@example.com"}, "object": obj, "dryRun": False}}
        (folder / f"{name}.json").write_text(json.dumps(review, indent=2) + "\n")


def write_signers() -> None:
    text = SIGNERS.read_text()
    header = text[: text.index("signers:")]
    header = header.replace("# PLACEHOLDER keys: replace keyid/public with real ones before use.\n", "")
    if "EXAMPLE identities" not in header:  # once, however often the script runs
        header += ("# EXAMPLE identities: these public keys belong to the throwaway keys that signed\n"
                   "# examples/evidence (scripts/make-examples.py; the private halves were discarded).\n"
                   "# Replace them with your signers' keys (`gatekeeper keygen`).\n")
    signers = []
    for name, roles in PEOPLE.items():
        public = KEYS[name].public_key
        signers.append({"name": name, "roles": roles, "keys": [{
            "keyid": public.keyid, "scheme": public.scheme, "keytype": public.keytype, "public": public.keyval["public"]}]})
    SIGNERS.write_text(header + yaml.safe_dump({"signers": signers}, sort_keys=False, width=200))


if __name__ == "__main__":
    # `--produced` rewrites only credit-scoring 13 (no new keys, the other examples untouched).
    import sys

    write_produced_example("13") if sys.argv[1:] == ["--produced"] else main()
