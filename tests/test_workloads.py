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


# --- locations the gate cannot see, images as the artifact, containers added later -------------

def pod(containers, ephemeral=(), owned=True, annotations=None):
    owner = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9", "uid": "u", "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-7d9-x", "namespace": "ns", **({"ownerReferences": owner} if owned else {}),
                         **({"annotations": annotations} if annotations else {})},
            "spec": {"containers": list(containers), **({"ephemeralContainers": list(ephemeral)} if ephemeral else {})}}


VLLM = {"name": "llm", "image": "vllm/vllm-openai:v0.6.3", "args": ["--model", "s3://models/m/1"]}


def with_template(containers, annotations=None):
    obj = deployment(template_annotations=annotations)
    obj["spec"]["template"]["spec"]["containers"] = containers
    return obj


def test_a_model_server_added_to_an_owned_pod_is_judged_on_what_was_added():
    served = served_models(pod([{"name": "web", "image": "nginx:1.27"}], [VLLM]))
    assert served.gated and served.skip_reason is None
    assert [(loc.path, loc.kind, loc.value) for loc in served.locations] == [
        ("spec.ephemeralContainers[0].args[--model]", "uri", "s3://models/m/1")]
    assert "runs model server vLLM (image vllm/vllm-openai:v0.6.3)" in served.reference_errors[0]


def test_a_debug_container_in_an_owned_pod_is_not_judged():
    served = served_models(pod([{"name": "web", "image": "nginx:1.27"}], [{"name": "debugger", "image": "busybox:1.36"}]))
    assert not served.gated and served.skip_reason == "created by ReplicaSet/web-7d9, judged there"


def test_env_from_on_a_model_server_without_its_own_location_is_opaque():
    tgi = {"name": "tgi", "image": "ghcr.io/huggingface/text-generation-inference:2.4",
           "envFrom": [{"configMapRef": {"name": "settings"}}, {"secretRef": {"name": "hf"}}, {"prefix": "X_"}]}
    [location] = served_models(with_template([tgi], {"model-gatekeeper.io/model": "models:/m/1"})).locations
    assert (location.path, location.kind, location.value) == (
        "spec.template.spec.containers[0].envFrom", "opaque", "environment from ConfigMap settings, Secret hf")


def test_env_from_beside_an_explicit_model_argument_only_carries_credentials():
    llm = {**VLLM, "envFrom": [{"secretRef": {"name": "hf-token"}}]}
    served = served_models(with_template([llm], {"model-gatekeeper.io/model": "models:/m/1"}))
    assert [(loc.kind, loc.value) for loc in served.locations] == [("uri", "s3://models/m/1")]


def test_env_from_on_an_ordinary_container_is_not_a_location():
    # not a model server: envFrom is its configuration; the annotated object's images are the artifact
    app = {"name": "app", "image": "registry.example.com/app:2", "envFrom": [{"configMapRef": {"name": "c"}}]}
    served = served_models(with_template([app], {"model-gatekeeper.io/model": "models:/m/1"}))
    assert [(loc.path, loc.kind, loc.presumed, loc.digest) for loc in served.locations] == [
        ("spec.template.spec.containers[0].image", "image", True, None)]


def test_presumed_images_carry_their_digest_and_cover_every_container():
    digest = "sha256:" + "ab" * 32
    served = served_models(with_template(
        [{"name": "scorer", "image": f"r.example.com/scorer@{digest}"}, {"name": "proxy", "image": "envoy:1"}],
        {"model-gatekeeper.io/model": "models:/m/1"}))
    assert [(loc.component, loc.digest, loc.presumed) for loc in served.locations] == [
        ("scorer", digest, True), ("proxy", None, True)]
    assert served.models[0].storage_uri is None


def test_images_are_not_read_for_unannotated_workloads():
    served = served_models(with_template([{"name": "web", "image": "nginx:1.27"}]))
    assert not served.gated and served.locations == []


def test_env_from_in_a_component_that_names_its_model_only_carries_credentials():
    annotated = {"name": "llm", "namespace": "ns", "annotations": {"model-gatekeeper.io/model": "models:/m/1"}}
    hf = [{"secretRef": {"name": "hf-token"}}]
    # an LLMInferenceService's spec.model.uri is the model of every container of the object
    llm = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "LLMInferenceService", "metadata": annotated,
           "spec": {"model": {"uri": "hf://org/m"}, "template": {"containers": [
               {"name": "main", "image": "vllm/vllm-openai:v0.8", "envFrom": hf}]}}}
    assert [(loc.kind, loc.value) for loc in served_models(llm).locations] == [("uri", "hf://org/m")]
    # a predictor naming its storageUri: its containers' envFrom is credentials; a transformer
    # naming nothing may take STORAGE_URI from its envFrom
    isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": annotated,
            "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://m/1", "envFrom": hf}},
                     "transformer": {"containers": [{"name": "t", "image": "r.example.com/t:1", "envFrom": hf}]}}}
    assert [(loc.path, loc.kind) for loc in served_models(isvc).locations] == [
        ("spec.predictor.model.storageUri", "uri"), ("spec.transformer.containers[0].envFrom", "opaque")]
