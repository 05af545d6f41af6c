"""Kubernetes itself rejects non-compliant model deployments (README "Which workloads, which model, which artifact", "The webhook", deploy/README.md).

A real kube-apiserver, with deploy/'s ValidatingWebhookConfiguration pointed at the real gate
over HTTPS, is driven with the `kubernetes` client: nothing here builds an AdmissionReview.
The last test stops the gate; keep it last.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .conftest import PRODUCTION, STAGING, UNLABELLED, load_manifest
from .kube import MODEL_ANNOTATION, Kube, requirement_ids, status_message, with_namespace

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("webhook")]

NONCOMPLIANT = [
    "artifact-storage-mismatch.yaml", "classification-credit-scoring-12.yaml", "documentation-credit-scoring-5.yaml",
    "evidence-missing.yaml", "evidence-no-model-reference.yaml", "explainability-credit-scoring-7.yaml",
    "fairness-credit-scoring-4.yaml", "lineage-credit-scoring-6.yaml", "monitoring-credit-scoring-10.yaml",
    "performance-credit-scoring-11.yaml", "pii-credit-scoring-8.yaml", "signoff-credit-scoring-9.yaml",
]


def denied_by(environment: str) -> str:
    return f'admission webhook "{environment}.validate.model-gatekeeper.io" denied the request'


def compliant_isvc(namespace: str, name: str | None = None) -> dict[str, Any]:
    return with_namespace(load_manifest("compliant/credit-scoring-inferenceservice.yaml"), namespace, name)


def deployment(namespace: str, name: str, model: str | None) -> dict[str, Any]:
    """The example churn-batch-scorer Deployment (model named on the pod template), renamed."""
    obj = with_namespace(load_manifest("compliant/churn-predictor-deployment.yaml"), namespace, name)
    annotations = obj["spec"]["template"]["metadata"].setdefault("annotations", {})
    if model is None:
        annotations.pop(MODEL_ANNOTATION, None)
    else:
        annotations[MODEL_ANNOTATION] = model
    return obj


def set_model(obj: dict[str, Any], version: str) -> dict[str, Any]:
    """An InferenceService switched to another credit-scoring version (annotation and artifact)."""
    obj = copy.deepcopy(obj)
    obj["metadata"]["annotations"][MODEL_ANNOTATION] = f"models:/credit-scoring/{version}"
    obj["spec"]["predictor"]["model"]["storageUri"] = f"s3://models/credit-scoring/{version}"
    return obj


# --- production: enforced ----------------------------------------------------------------------


@pytest.mark.parametrize("file", NONCOMPLIANT)
def test_noncompliant_inferenceservice_is_rejected_in_production(kube: Kube, file: str, expected_violations, audit):
    obj = with_namespace(load_manifest(f"noncompliant/{file}"), PRODUCTION)
    name = obj["metadata"]["name"]

    error = kube.rejected(lambda: kube.create(obj))

    message = status_message(error)
    assert error.status == 403, message
    assert message.startswith(denied_by(PRODUCTION)), message
    # the same requirement IDs as `gatekeeper check` finds for this manifest, one line each
    assert expected_violations[name], name
    assert requirement_ids(message) == expected_violations[name], message
    assert kube.get("InferenceService", PRODUCTION, name) is None
    [record] = audit(name=name, namespace=PRODUCTION)
    assert (record["outcome"], record["operation"], record["dry_run"], record["environment"]) == (
        "denied", "CREATE", False, PRODUCTION)
    assert {v["requirement"] for v in record["violations"]} == expected_violations[name]


def test_compliant_inferenceservice_is_admitted_and_a_noncompliant_update_rejected(kube: Kube, audit):
    created = kube.create(compliant_isvc(PRODUCTION))
    assert created.warnings == []
    stored = kube.get("InferenceService", PRODUCTION, "credit-scoring")
    assert stored["metadata"]["annotations"][MODEL_ANNOTATION] == "models:/credit-scoring/3"

    error = kube.rejected(lambda: kube.replace(set_model(stored, "4")))

    message = status_message(error)
    assert error.status == 403, message
    assert message.startswith(denied_by(PRODUCTION)), message
    assert requirement_ids(message) == {"fairness.demographic_parity_ratio"}, message
    assert "credit-scoring@4" in message
    after = kube.get("InferenceService", PRODUCTION, "credit-scoring")
    assert after["metadata"]["annotations"][MODEL_ANNOTATION] == "models:/credit-scoring/3"
    assert after["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    outcomes = [(r["operation"], r["outcome"]) for r in audit(name="credit-scoring", namespace=PRODUCTION)]
    assert outcomes == [("UPDATE", "denied"), ("CREATE", "admitted")]  # newest first


def test_seldon_model_is_gated(kube: Kube, audit):
    model = with_namespace(load_manifest("compliant/churn-predictor-seldon-model.yaml"), PRODUCTION)
    kube.create(model)
    assert kube.get("Model", PRODUCTION, "churn-predictor") is not None

    anonymous = copy.deepcopy(model)
    anonymous["metadata"]["name"] = "anonymous-seldon-model"
    del anonymous["metadata"]["annotations"]
    error = kube.rejected(lambda: kube.create(anonymous))
    assert error.status == 403
    assert requirement_ids(status_message(error)) == {"evidence.model_reference"}, status_message(error)
    assert [r["outcome"] for r in audit(name="churn-predictor", namespace=PRODUCTION)] == ["admitted"]


def test_deployment_serving_a_model_is_gated_the_same_way(kube: Kube, audit):
    # the example as written: churn-batch-scorer names models:/churn-predictor@champion on its
    # pod template; feature-api names no model
    scorer = with_namespace(load_manifest("compliant/churn-predictor-deployment.yaml", 0), PRODUCTION)
    plain = with_namespace(load_manifest("compliant/churn-predictor-deployment.yaml", 1), PRODUCTION)
    kube.create(scorer)
    kube.create(plain)
    [record] = audit(name="churn-batch-scorer", namespace=PRODUCTION)
    assert record["outcome"] == "admitted"
    assert [(m["name"], m["version"]) for m in record["models"]] == [("churn-predictor", "7")]  # alias resolved
    # matchConditions: the API server does not even call the gate for an unannotated Deployment
    assert audit(name="feature-api", namespace=PRODUCTION) == []

    # a non-compliant model on the pod template: rejected on create ...
    bad = deployment(PRODUCTION, "credit-batch-scorer", "models:/credit-scoring/4")
    error = kube.rejected(lambda: kube.create(bad))
    assert error.status == 403
    assert status_message(error).startswith(denied_by(PRODUCTION))
    # (the churn scorer's image, which credit-scoring 4's evidence does not register, is all
    # it names as its artifact: unverifiable too)
    assert requirement_ids(status_message(error)) == {"fairness.demographic_parity_ratio",
                                                      "artifact.unverifiable"}, status_message(error)
    # ... and on update of the admitted Deployment
    stored = kube.custom.get_namespaced_custom_object("apps", "v1", PRODUCTION, "deployments", "churn-batch-scorer")
    stored["spec"]["template"]["metadata"]["annotations"][MODEL_ANNOTATION] = "models:/credit-scoring/4"
    error = kube.rejected(lambda: kube.replace(stored))
    assert error.status == 403
    assert requirement_ids(status_message(error)) == {"fairness.demographic_parity_ratio",
                                                      "artifact.unverifiable"}, status_message(error)


def test_removing_the_model_annotation_from_a_deployment_still_reaches_the_gate(kube: Kube, gate, audit):
    # deploy/README: every Deployment of a governed namespace reaches the gate
    kube.create(deployment(PRODUCTION, "scorer-unannotated-later", "models:/churn-predictor/7"))
    stored = kube.custom.get_namespaced_custom_object("apps", "v1", PRODUCTION, "deployments",
                                                      "scorer-unannotated-later")
    del stored["spec"]["template"]["metadata"]["annotations"][MODEL_ANNOTATION]
    answered = gate.reviews_answered()

    kube.replace(stored)  # no model served any more: admitted (README "The webhook")

    assert gate.reviews_answered() == answered + 1  # the API server did call the gate
    # Admitted without a policy decision, and in the decision log, marked with what happened.
    records = audit(name="scorer-unannotated-later", namespace=PRODUCTION)
    assert [(r["operation"], r["outcome"], r.get("reason")) for r in records] == [
        ("UPDATE", "admitted", "annotation_removed"), ("CREATE", "admitted", None)]
    # and an unrelated change to an unannotated Deployment is sent too (deploy/ sends every
    # Deployment of a governed namespace: whether it runs a model server is the gate's call),
    # and admitted without a decision record
    plain = kube.custom.get_namespaced_custom_object("apps", "v1", PRODUCTION, "deployments",
                                                     "scorer-unannotated-later")
    plain["spec"]["replicas"] = 2
    answered = gate.reviews_answered()
    kube.replace(plain)
    assert gate.reviews_answered() == answered + 1
    assert [r["operation"] for r in audit(name="scorer-unannotated-later", namespace=PRODUCTION)] == [
        "UPDATE", "CREATE"]


# --- staging: warn ---------------------------------------------------------------------------


def test_staging_admits_and_the_client_receives_the_policy_warnings(kube: Kube, audit):
    obj = with_namespace(load_manifest("noncompliant/fairness-credit-scoring-4.yaml"), STAGING)

    created = kube.create(obj)

    assert kube.get("InferenceService", STAGING, "credit-scoring-v4") is not None
    fairness = [w for w in created.warnings if w.startswith("[fairness.demographic_parity_ratio] credit-scoring@4: ")]
    assert fairness, created.warnings
    [record] = audit(name="credit-scoring-v4", namespace=STAGING)
    assert (record["outcome"], record["environment"], record["allowed"]) == ("warned", STAGING, True)
    # every warning the gate recorded reached the client (shortened to Kubernetes' advised 120 characters)
    assert len(created.warnings) == len(record["warnings"]), (created.warnings, record["warnings"])
    for sent, kept in zip(created.warnings, record["warnings"]):
        assert kept.startswith(sent.removesuffix("...")), (sent, kept)

    # a Deployment in staging: the same
    written = kube.create(deployment(STAGING, "credit-batch-scorer", "models:/credit-scoring/4"))
    assert any(w.startswith("[fairness.demographic_parity_ratio] credit-scoring@4") for w in written.warnings)


def test_long_warnings_reach_the_client_shortened(kube: Kube, audit):
    # a violation line over Kubernetes' advised 120 characters: evidence missing for a long model name
    model = "a-model-with-a-long-name-" + "x" * 60
    obj = with_namespace(load_manifest("noncompliant/evidence-missing.yaml"), STAGING, "long-warning")
    obj["metadata"]["annotations"][MODEL_ANNOTATION] = f"models:/{model}/1"

    written = kube.create(obj)

    [record] = audit(name="long-warning", namespace=STAGING)
    [kept] = record["warnings"]
    assert len(kept) > 120 and kept.startswith(f"[evidence.missing] {model}@1: ")
    [sent] = written.warnings
    assert len(sent) == 120 and sent.endswith("...") and kept.startswith(sent[:-3]), sent


# --- dry run ---------------------------------------------------------------------------------


def test_server_side_dry_run_gets_the_same_decision_and_a_dry_run_audit_record(kube: Kube, audit, expected_violations):
    obj = with_namespace(load_manifest("noncompliant/pii-credit-scoring-8.yaml"), PRODUCTION, "pii-dry-run")

    error = kube.rejected(lambda: kube.create(obj, dry_run="All"))

    assert error.status == 403
    assert requirement_ids(status_message(error)) == expected_violations["credit-scoring-v8"]
    [record] = audit(name="pii-dry-run", namespace=PRODUCTION)
    assert (record["outcome"], record["dry_run"]) == ("denied", True)

    ok = compliant_isvc(PRODUCTION, "credit-scoring-dry-run")
    written = kube.create(ok, dry_run="All")
    assert written.object["metadata"]["name"] == "credit-scoring-dry-run"
    assert kube.get("InferenceService", PRODUCTION, "credit-scoring-dry-run") is None  # nothing stored
    [record] = audit(name="credit-scoring-dry-run", namespace=PRODUCTION)
    assert (record["outcome"], record["dry_run"]) == ("admitted", True)


# --- not gated -------------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", ["kube-system", UNLABELLED])
def test_kube_system_and_unlabelled_namespaces_are_not_gated(kube: Kube, audit, namespace: str):
    obj = with_namespace(load_manifest("noncompliant/classification-credit-scoring-12.yaml"), namespace)
    kube.create(obj)
    kube.create(deployment(namespace, "credit-batch-scorer", "models:/credit-scoring/12"))
    assert kube.get("InferenceService", namespace, "credit-scoring-v12") is not None
    assert audit(namespace=namespace) == []  # the gate was never called


# --- failure policy (keep last: stops the gate) ------------------------------------------------


def test_gate_down_blocks_production_by_failure_policy_and_recovers(kube: Kube, gate, audit):
    gate.stop()
    try:
        obj = compliant_isvc(PRODUCTION, "credit-scoring-while-down")
        error = kube.rejected(lambda: kube.create(obj))
        message = status_message(error)
        assert error.status == 500, message
        assert 'failed calling webhook "production.validate.model-gatekeeper.io"' in message, message
        assert kube.get("InferenceService", PRODUCTION, "credit-scoring-while-down") is None
        # the namespaces that repair a cluster stay writable
        kube.create(with_namespace(obj, "kube-system"))
    finally:
        gate.start()

    kube.create(obj)
    assert kube.get("InferenceService", PRODUCTION, "credit-scoring-while-down") is not None
    assert [r["outcome"] for r in audit(name="credit-scoring-while-down", namespace=PRODUCTION)] == ["admitted"]
