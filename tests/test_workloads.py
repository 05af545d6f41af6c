"""Which model does an object serve (README "Which workloads, which model, which artifact")."""

import asyncio

import pytest

from gatekeeper.opa.client import PolicyEngine
from gatekeeper.pipeline.serving import ServingKinds
from gatekeeper.pipeline.workloads import ModelReferenceError, parse_model_uri
from gatekeeper.pipeline.workloads import served_models as _served_models


@pytest.fixture(scope="module")
def kinds(opa_url):
    """The serving-kinds table as the real OPA serves it (never read from the YAML)."""
    async def read():
        engine = PolicyEngine(opa_url)
        try:
            return await engine.data("gatekeeper/serving")
        finally:
            await engine.close()
    return ServingKinds.from_data(asyncio.run(read()))


@pytest.fixture(autouse=True)
def _table(kinds):
    global served_models
    served_models = lambda obj: _served_models(obj, kinds)  # noqa: E731 - the tests below read one table


def deployment(template_annotations=None, annotations=None, kind="Deployment"):
    return {
        "apiVersion": "apps/v1", "kind": kind,
        "metadata": {"name": "scorer", "namespace": "ns", **({"annotations": annotations} if annotations else {})},
        "spec": {"template": {"metadata": {"annotations": template_annotations or {}}, "spec": {}}},
    }


def test_version_and_alias_uris():
    assert parse_model_uri("models:/credit-scoring/3").version == "3"
    alias = parse_model_uri("models:/credit-scoring@champion")
    assert (alias.name, alias.version, alias.alias) == ("credit-scoring", None, "champion")


@pytest.mark.parametrize("bad", ["credit-scoring", "models:/", "models:/a/b/c", "s3://bucket/model", "models:/a@", "models:/a/3@x"])
def test_non_uri_references_are_rejected_with_the_expected_form(bad):
    with pytest.raises(ModelReferenceError, match="models:/<name>/<version>"):
        parse_model_uri(bad)


def test_pod_template_annotation_makes_a_deployment_model_serving():
    served = served_models(deployment(template_annotations={"model-gatekeeper.io/model": "models:/m/1"}))
    assert served.gated and served.models[0].ref == "models:/m/1"


def test_object_annotation_wins_over_the_template():
    served = served_models(deployment(
        template_annotations={"model-gatekeeper.io/model": "models:/m/1"},
        annotations={"model-gatekeeper.io/model": "models:/m/2"}, kind="StatefulSet"))
    assert served.models[0].version == "2"


def test_unannotated_deployment_is_not_gated():
    assert not served_models(deployment()).gated


def test_other_kinds_are_not_gated():
    assert not served_models({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}).gated
    assert not served_models({"apiVersion": "example.com/v1", "kind": "Deployment", "metadata": {"name": "x"}}).gated


def test_inference_service_without_annotation_is_gated_with_a_reference_error():
    served = served_models({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                            "metadata": {"name": "x", "namespace": "n"}, "spec": {"predictor": {}}})
    assert served.gated and not served.models
    assert "no model-gatekeeper.io/model annotation" in served.reference_errors[0]


def test_seldon_model_with_a_bad_uri_carries_the_error():
    served = served_models({"apiVersion": "mlops.seldon.io/v1alpha1", "kind": "Model",
                            "metadata": {"name": "x", "annotations": {"model-gatekeeper.io/model": "churn:7"}}})
    assert "'churn:7' is not a model URI" in served.reference_errors[0]


def test_storage_uri_and_declared_risk_class_are_read():
    served = served_models({
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "x", "annotations": {"model-gatekeeper.io/model": "models:/m/1",
                                                  "model-gatekeeper.io/risk-class": "High"}},
        "spec": {"predictor": {"sklearn": {"storageUri": "s3://b/m/1"}}},
    })
    model = served.models[0]
    assert (model.storage_uri, model.declared_risk_class) == ("s3://b/m/1", "high")
