"""Every way around the gate (issue: serving kinds, artifact binding, model servers).

Each case is one small manifest of the project's own: denied in production with the exact
requirement ID, warned in staging, and its compliant twin (the same object loading the
artifact the evidence registers) admitted. The manifests of a run go through one real
`gatekeeper check` (a real OPA), so the cases cost three processes, not a hundred.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from .conftest import EVIDENCE, run_cli, unreviewed_policies

MODEL = "models:/credit-scoring/3"  # high risk, compliant evidence
GOOD = "s3://models/credit-scoring/3"
BAD = "s3://models/credit-scoring/2"
IMAGE_DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32
ANNOTATED = {"model-gatekeeper.io/model": MODEL}


def obj(api_version: str, kind: str, name: str, spec: dict, annotations: dict | None = ANNOTATED, **meta) -> dict:
    metadata = {"name": name, "namespace": "lending", **meta}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}


def pod_spec(*containers: dict) -> dict:
    return {"containers": list(containers)}


def template(spec: dict, annotations: dict | None = None) -> dict:
    return {"selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "x"}, **({"annotations": annotations} if annotations else {})},
                         "spec": spec}}


def vllm(model: str | None) -> dict:
    args = ["--model", model] if model else []
    return {"name": "vllm", "image": "vllm/vllm-openai:v0.6.3", "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"], "args": args}


def isvc(predictor: dict, group: str = "serving.kserve.io/v1beta1", **extra) -> dict:
    return obj(group, "InferenceService", "scorer", {"predictor": predictor, **extra})


def sklearn(uri: str) -> dict:
    return {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": uri}}


def seldon_v1(child_uri: str, annotations: dict | None = ANNOTATED) -> dict:
    graph = {"name": "router", "implementation": "RANDOM_ABTEST", "children": [
        {"name": "a", "implementation": "SKLEARN_SERVER", "modelUri": GOOD, "children": [
            {"name": "b", "implementation": "SKLEARN_SERVER", "modelUri": child_uri}]}]}
    return obj("machinelearning.seldon.io/v1", "SeldonDeployment", "scorer",
               {"predictors": [{"name": "default", "graph": graph, "replicas": 1}]}, annotations)


OWNED = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9", "uid": "u1", "controller": True}]

# case -> (denied manifest, requirement IDs in production, compliant twin)
CASES: dict[str, tuple[dict, set[str], dict]] = {
    "isvc-storage-block-secret": (
        isvc({"model": {"modelFormat": {"name": "sklearn"}, "storage": {"key": "minio", "path": "credit-scoring/3"}}}),
        {"artifact.unverifiable"},
        isvc({"model": {"modelFormat": {"name": "sklearn"},
                        "storage": {"path": "credit-scoring/3", "parameters": {"type": "s3", "bucket": "models"}}}}),
    ),
    "isvc-storage-block-other-bucket": (
        isvc({"model": {"modelFormat": {"name": "sklearn"},
                        "storage": {"path": "credit-scoring/3", "parameters": {"type": "s3", "bucket": "elsewhere"}}}}),
        {"artifact.storage_uri_mismatch"},
        isvc({"model": {"modelFormat": {"name": "sklearn"},
                        "storage": {"path": "credit-scoring/3", "parameters": {"type": "s3", "bucket": "models"}}}}),
    ),
    "isvc-container-storage-uri-env": (
        isvc({"containers": [{"name": "kserve-container", "image": "registry.example.com/scorer:3",
                              "env": [{"name": "STORAGE_URI", "value": BAD}]}]}),
        {"artifact.storage_uri_mismatch"},
        isvc({"containers": [{"name": "kserve-container", "image": "registry.example.com/scorer:3",
                              "env": [{"name": "STORAGE_URI", "value": GOOD}]}]}),
    ),
    "isvc-transformer": (
        isvc(sklearn(GOOD), transformer={"containers": [
            {"name": "transformer", "image": "registry.example.com/t:1", "env": [{"name": "STORAGE_URI", "value": BAD}]}]}),
        {"artifact.storage_uri_mismatch"},
        isvc(sklearn(GOOD), transformer={"containers": [
            {"name": "transformer", "image": "registry.example.com/t:1", "env": [{"name": "STORAGE_URI", "value": GOOD}]}]}),
    ),
    "isvc-explainer": (
        isvc(sklearn(GOOD), explainer={"art": {"type": "SquareAttack", "storageUri": BAD}}),
        {"artifact.storage_uri_mismatch"},
        isvc(sklearn(GOOD), explainer={"art": {"type": "SquareAttack", "storageUri": GOOD}}),
    ),
    "isvc-model-image-by-tag": (
        isvc({"containers": [{"name": "kserve-container", "image": "registry.example.com/scorer:3"}]}),
        {"artifact.unverifiable"},
        isvc({"containers": [{"name": "kserve-container", "image": f"registry.example.com/scorer@{IMAGE_DIGEST}"}]}),
    ),
    "kubeflow-isvc-canary": (
        obj("serving.kubeflow.org/v1alpha2", "InferenceService", "scorer", {
            "default": {"predictor": {"sklearn": {"storageUri": GOOD}}},
            "canary": {"predictor": {"sklearn": {"storageUri": BAD}}}, "canaryTrafficPercent": 10}),
        {"artifact.storage_uri_mismatch"},
        obj("serving.kubeflow.org/v1alpha2", "InferenceService", "scorer", {
            "default": {"predictor": {"sklearn": {"storageUri": GOOD}}},
            "canary": {"predictor": {"sklearn": {"storageUri": GOOD}}}, "canaryTrafficPercent": 10}),
    ),
    "trained-model": (
        obj("serving.kserve.io/v1alpha1", "TrainedModel", "scorer",
            {"inferenceService": "multi", "model": {"framework": "sklearn", "storageUri": BAD, "memory": "256Mi"}}),
        {"artifact.storage_uri_mismatch"},
        obj("serving.kserve.io/v1alpha1", "TrainedModel", "scorer",
            {"inferenceService": "multi", "model": {"framework": "sklearn", "storageUri": GOOD, "memory": "256Mi"}}),
    ),
    "trained-model-unannotated": (
        obj("serving.kserve.io/v1alpha1", "TrainedModel", "scorer",
            {"inferenceService": "multi", "model": {"storageUri": GOOD}}, None),
        {"evidence.model_reference"},
        obj("serving.kserve.io/v1alpha1", "TrainedModel", "scorer",
            {"inferenceService": "multi", "model": {"storageUri": GOOD}}),
    ),
    "llm-inference-service": (
        obj("serving.kserve.io/v1alpha1", "LLMInferenceService", "scorer", {"model": {"uri": BAD, "name": "scorer"}}),
        {"artifact.storage_uri_mismatch"},
        obj("serving.kserve.io/v1alpha1", "LLMInferenceService", "scorer", {"model": {"uri": GOOD, "name": "scorer"}}),
    ),
    "modelmesh-predictor": (
        obj("serving.kserve.io/v1alpha1", "Predictor", "scorer", {"modelType": {"name": "sklearn"}, "storageUri": BAD}),
        {"artifact.storage_uri_mismatch"},
        obj("serving.kserve.io/v1alpha1", "Predictor", "scorer", {"modelType": {"name": "sklearn"}, "storageUri": GOOD}),
    ),
    "seldon-v2-model": (
        obj("mlops.seldon.io/v1alpha1", "Model", "scorer", {"storageUri": BAD, "requirements": ["sklearn"]}),
        {"artifact.storage_uri_mismatch"},
        obj("mlops.seldon.io/v1alpha1", "Model", "scorer", {"storageUri": GOOD, "requirements": ["sklearn"]}),
    ),
    "seldon-v2-explainer": (
        obj("mlops.seldon.io/v1alpha1", "Explainer", "scorer", {"storageUri": BAD, "explainer": {"type": "anchor_tabular"}}),
        {"artifact.storage_uri_mismatch"},
        obj("mlops.seldon.io/v1alpha1", "Explainer", "scorer", {"storageUri": GOOD, "explainer": {"type": "anchor_tabular"}}),
    ),
    "seldon-v1-graph-child": (seldon_v1(BAD), {"artifact.storage_uri_mismatch"}, seldon_v1(GOOD)),
    "seldon-v1-unannotated": (seldon_v1(GOOD, None), {"evidence.model_reference"}, seldon_v1(GOOD)),
    "deployment-vllm-unannotated": (
        obj("apps/v1", "Deployment", "llm", template(pod_spec(vllm(GOOD))), None),
        {"evidence.model_reference"},
        obj("apps/v1", "Deployment", "llm", template(pod_spec(vllm(GOOD)), ANNOTATED), None),
    ),
    "deployment-vllm-other-model": (
        obj("apps/v1", "Deployment", "llm", template(pod_spec(vllm(BAD)))),
        {"artifact.storage_uri_mismatch"},
        obj("apps/v1", "Deployment", "llm", template(pod_spec(vllm(GOOD)))),
    ),
    "deployment-tgi-model-id-env": (
        obj("apps/v1", "Deployment", "tgi", template(pod_spec(
            {"name": "tgi", "image": "ghcr.io/huggingface/text-generation-inference:2.4", "env": [{"name": "MODEL_ID", "value": BAD}]}))),
        {"artifact.storage_uri_mismatch"},
        obj("apps/v1", "Deployment", "tgi", template(pod_spec(
            {"name": "tgi", "image": "ghcr.io/huggingface/text-generation-inference:2.4", "env": [{"name": "MODEL_ID", "value": GOOD}]}))),
    ),
    "statefulset-triton-expanded-arg": (
        obj("apps/v1", "StatefulSet", "triton", template(pod_spec(
            {"name": "triton", "image": "nvcr.io/nvidia/tritonserver:24.08-py3", "command": ["tritonserver"],
             "args": ["--model-repository=$(REPO)"], "env": [{"name": "REPO", "value": BAD}]}))),
        {"artifact.storage_uri_mismatch"},
        obj("apps/v1", "StatefulSet", "triton", template(pod_spec(
            {"name": "triton", "image": "nvcr.io/nvidia/tritonserver:24.08-py3", "command": ["tritonserver"],
             "args": ["--model-repository=$(REPO)"], "env": [{"name": "REPO", "value": GOOD}]}))),
    ),
    "leaderworkerset-sglang-unannotated": (
        obj("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", "sglang", {"leaderWorkerTemplate": {
            "size": 2, "workerTemplate": {"spec": pod_spec(
                {"name": "sglang", "image": "lmsysorg/sglang:v0.4", "args": ["--model-path", GOOD]})}}}, None),
        {"evidence.model_reference"},
        obj("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", "sglang", {"leaderWorkerTemplate": {
            "size": 2, "workerTemplate": {"spec": pod_spec(
                {"name": "sglang", "image": "lmsysorg/sglang:v0.4", "args": ["--model-path", GOOD]})}}}),
    ),
    "pod-ollama-image-by-tag": (
        obj("v1", "Pod", "ollama", pod_spec({"name": "ollama", "image": "ollama/ollama:0.4"})),
        {"artifact.unverifiable"},
        obj("v1", "Pod", "ollama", pod_spec({"name": "ollama", "image": f"ollama/ollama@{IMAGE_DIGEST}"})),
    ),
    "pod-image-other-digest": (
        obj("v1", "Pod", "ollama", pod_spec({"name": "ollama", "image": f"ollama/ollama@{OTHER_DIGEST}"})),
        {"artifact.storage_uri_mismatch"},
        obj("v1", "Pod", "ollama", pod_spec({"name": "ollama", "image": f"ollama/ollama@{IMAGE_DIGEST}"})),
    ),
    "replicaset-direct-llama-cpp": (
        obj("apps/v1", "ReplicaSet", "llama", template(pod_spec(
            {"name": "llama", "image": "ghcr.io/ggerganov/llama.cpp:server", "args": ["-m", "/models/x.gguf"]})), None),
        {"evidence.model_reference"},
        obj("apps/v1", "ReplicaSet", "llama", template(pod_spec(
            {"name": "llama", "image": "ghcr.io/ggerganov/llama.cpp:server", "args": ["-m", GOOD]})), ANNOTATED),
    ),
    "job-direct-torchserve": (
        obj("batch/v1", "Job", "ts", template(pod_spec(
            {"name": "ts", "image": "pytorch/torchserve:0.12.0", "args": ["torchserve", "--model-store", BAD]})), None),
        {"evidence.model_reference"},
        obj("batch/v1", "Job", "ts", template(pod_spec(
            {"name": "ts", "image": "pytorch/torchserve:0.12.0", "args": ["torchserve", "--model-store", GOOD]})), ANNOTATED),
    ),
    "isvc-storage-uri-from-a-secret": (
        isvc({"containers": [{"name": "kserve-container", "image": "registry.example.com/scorer:3", "env": [
            {"name": "STORAGE_URI", "valueFrom": {"secretKeyRef": {"name": "model", "key": "uri"}}}]}]}),
        {"artifact.unverifiable"},
        isvc({"containers": [{"name": "kserve-container", "image": "registry.example.com/scorer:3",
                              "env": [{"name": "STORAGE_URI", "value": GOOD}]}]}),
    ),
    "seldon-v2-storage-uri-is-a-list": (
        obj("mlops.seldon.io/v1alpha1", "Model", "scorer", {"storageUri": [BAD]}),
        {"evidence.model_reference"},
        obj("mlops.seldon.io/v1alpha1", "Model", "scorer", {"storageUri": GOOD}),
    ),
    "pod-ephemeral-vllm-unannotated": (
        obj("v1", "Pod", "debug", {"containers": [{"name": "web", "image": "nginx:1.27"}],
                                   "ephemeralContainers": [vllm(GOOD)]}, None),
        {"evidence.model_reference"},
        obj("v1", "Pod", "debug", {"containers": [{"name": "web", "image": "nginx:1.27"}],
                                   "ephemeralContainers": [vllm(GOOD)]}),
    ),
    # --- where the gate cannot see the location: envFrom, valueFrom, $(VAR) from elsewhere
    "isvc-storage-uri-through-env-from": (
        isvc({"containers": [{"name": "kserve-container", "image": f"registry.example.com/scorer@{IMAGE_DIGEST}",
                              "envFrom": [{"configMapRef": {"name": "model-location"}}]}]}),
        {"artifact.unverifiable"},
        # `env` wins over envFrom: an explicit STORAGE_URI is what the container loads
        isvc({"containers": [{"name": "kserve-container", "image": f"registry.example.com/scorer@{IMAGE_DIGEST}",
                              "envFrom": [{"configMapRef": {"name": "model-location"}}],
                              "env": [{"name": "STORAGE_URI", "value": GOOD}]}]}),
    ),
    "isvc-transformer-env-from-secret": (
        isvc(sklearn(GOOD), transformer={"containers": [
            {"name": "transformer", "image": "registry.example.com/t:1", "envFrom": [{"secretRef": {"name": "t-env"}}]}]}),
        {"artifact.unverifiable"},
        isvc(sklearn(GOOD), transformer={"containers": [
            {"name": "transformer", "image": "registry.example.com/t:1", "envFrom": [{"secretRef": {"name": "t-env"}}],
             "env": [{"name": "STORAGE_URI", "value": GOOD}]}]}),
    ),
    "deployment-tgi-env-from": (
        obj("apps/v1", "Deployment", "tgi", template(pod_spec(
            {"name": "tgi", "image": "ghcr.io/huggingface/text-generation-inference:2.4",
             "envFrom": [{"configMapRef": {"name": "tgi-settings"}}, {"secretRef": {"name": "hf-token"}}]}))),
        {"artifact.unverifiable"},
        obj("apps/v1", "Deployment", "tgi", template(pod_spec(
            {"name": "tgi", "image": "ghcr.io/huggingface/text-generation-inference:2.4",
             "envFrom": [{"configMapRef": {"name": "tgi-settings"}}, {"secretRef": {"name": "hf-token"}}],
             "env": [{"name": "MODEL_ID", "value": GOOD}]}))),
    ),
    "isvc-storage-uri-from-a-configmap": (
        isvc({"containers": [{"name": "kserve-container", "image": "registry.example.com/scorer:3", "env": [
            {"name": "STORAGE_URI", "valueFrom": {"configMapKeyRef": {"name": "model", "key": "uri"}}}]}]}),
        {"artifact.unverifiable"},
        isvc({"containers": [{"name": "kserve-container", "image": "registry.example.com/scorer:3",
                              "env": [{"name": "STORAGE_URI", "value": GOOD}]}]}),
    ),
    "statefulset-triton-arg-from-a-secret": (
        obj("apps/v1", "StatefulSet", "triton", template(pod_spec(
            {"name": "triton", "image": "nvcr.io/nvidia/tritonserver:24.08-py3", "command": ["tritonserver"],
             "args": ["--model-repository=$(REPO)"],
             "env": [{"name": "REPO", "valueFrom": {"secretKeyRef": {"name": "triton", "key": "repo"}}}]}))),
        {"artifact.unverifiable"},
        obj("apps/v1", "StatefulSet", "triton", template(pod_spec(
            {"name": "triton", "image": "nvcr.io/nvidia/tritonserver:24.08-py3", "command": ["tritonserver"],
             "args": ["--model-repository=$(REPO)"], "env": [{"name": "REPO", "value": GOOD}]}))),
    ),
    "deployment-vllm-arg-through-env-from": (
        obj("apps/v1", "Deployment", "llm", template(pod_spec(
            {**vllm("$(MODEL)"), "envFrom": [{"configMapRef": {"name": "llm"}}]}))),
        {"artifact.unverifiable"},
        obj("apps/v1", "Deployment", "llm", template(pod_spec(
            {**vllm("$(MODEL)"), "envFrom": [{"configMapRef": {"name": "llm"}}], "env": [{"name": "MODEL", "value": GOOD}]}))),
    ),
    # --- annotated, but no location named: the images are the artifact
    "deployment-model-image-by-tag": (
        obj("apps/v1", "Deployment", "scorer", template(pod_spec(
            {"name": "scorer", "image": "registry.example.com/scorer:3"}))),
        {"artifact.unverifiable"},
        obj("apps/v1", "Deployment", "scorer", template(pod_spec(
            {"name": "scorer", "image": f"registry.example.com/scorer@{IMAGE_DIGEST}"}))),
    ),
    "deployment-model-image-unregistered-digest": (
        obj("apps/v1", "Deployment", "scorer", template(pod_spec(
            {"name": "scorer", "image": f"registry.example.com/scorer@{OTHER_DIGEST}"},
            {"name": "proxy", "image": "envoyproxy/envoy:v1.31"}))),
        {"artifact.unverifiable"},
        # the registered image carries the model; the tagged sidecar is then only a sidecar
        obj("apps/v1", "Deployment", "scorer", template(pod_spec(
            {"name": "scorer", "image": f"registry.example.com/scorer@{IMAGE_DIGEST}"},
            {"name": "proxy", "image": "envoyproxy/envoy:v1.31"}))),
    ),
    "job-model-image-on-the-template": (
        obj("batch/v1", "Job", "batch-score", template(pod_spec(
            {"name": "scorer", "image": "registry.example.com/scorer:latest"}), ANNOTATED), None),
        {"artifact.unverifiable"},
        obj("batch/v1", "Job", "batch-score", template(pod_spec(
            {"name": "scorer", "image": f"registry.example.com/scorer@{IMAGE_DIGEST}"}), ANNOTATED), None),
    ),
    "seldon-v2-model-without-location": (
        obj("mlops.seldon.io/v1alpha1", "Model", "scorer", {"requirements": ["sklearn"]}),
        {"artifact.unverifiable"},
        obj("mlops.seldon.io/v1alpha1", "Model", "scorer", {"storageUri": GOOD, "requirements": ["sklearn"]}),
    ),
    # --- kubectl debug: a model server added to a Pod a ReplicaSet created
    "pod-owned-ephemeral-vllm-unannotated": (
        obj("v1", "Pod", "web-7d9", {"containers": [{"name": "web", "image": "nginx:1.27"}],
                                     "ephemeralContainers": [vllm(GOOD)]}, None, ownerReferences=OWNED),
        {"evidence.model_reference"},
        obj("v1", "Pod", "web-7d9", {"containers": [{"name": "web", "image": "nginx:1.27"}],
                                     "ephemeralContainers": [vllm(GOOD)]}, ownerReferences=OWNED),
    ),
    "pod-owned-ephemeral-vllm-other-model": (
        obj("v1", "Pod", "web-7d9", {"containers": [{"name": "web", "image": "nginx:1.27"}],
                                     "ephemeralContainers": [vllm(BAD)]}, ownerReferences=OWNED),
        {"artifact.storage_uri_mismatch"},
        obj("v1", "Pod", "web-7d9", {"containers": [{"name": "web", "image": "nginx:1.27"}],
                                     "ephemeralContainers": [vllm(GOOD)]}, ownerReferences=OWNED),
    ),
    # --- a second model location in the spec (issue 26, item 7): every definition counts
    "deployment-tgi-model-id-twice-secret-last": (
        obj("apps/v1", "Deployment", "tgi", template(pod_spec(
            {"name": "tgi", "image": "ghcr.io/huggingface/text-generation-inference:2.4", "env": [
                {"name": "MODEL_ID", "value": GOOD},
                {"name": "MODEL_ID", "valueFrom": {"secretKeyRef": {"name": "llm", "key": "model"}}}]}))),
        {"artifact.unverifiable"},
        obj("apps/v1", "Deployment", "tgi", template(pod_spec(
            {"name": "tgi", "image": "ghcr.io/huggingface/text-generation-inference:2.4",
             "env": [{"name": "MODEL_ID", "value": GOOD}]}))),
    ),
    "isvc-storage-uri-twice-secret-last": (
        isvc({"containers": [{"name": "kserve-container", "image": "registry.example.com/scorer:3", "env": [
            {"name": "STORAGE_URI", "value": GOOD},
            {"name": "STORAGE_URI", "valueFrom": {"secretKeyRef": {"name": "model", "key": "uri"}}}]}]}),
        {"artifact.unverifiable"},
        isvc({"containers": [{"name": "kserve-container", "image": "registry.example.com/scorer:3",
                              "env": [{"name": "STORAGE_URI", "value": GOOD}]}]}),
    ),
    "isvc-storage-uri-twice-secret-first": (
        # Kubernetes keeps the last (compliant) one, but a Secret's definition is still one
        # the gate cannot verify
        isvc({"containers": [{"name": "kserve-container", "image": "registry.example.com/scorer:3", "env": [
            {"name": "STORAGE_URI", "valueFrom": {"secretKeyRef": {"name": "model", "key": "uri"}}},
            {"name": "STORAGE_URI", "value": GOOD}]}]}),
        {"artifact.unverifiable"},
        isvc({"containers": [{"name": "kserve-container", "image": "registry.example.com/scorer:3",
                              "env": [{"name": "STORAGE_URI", "value": GOOD}, {"name": "STORAGE_URI", "value": GOOD}]}]}),
    ),
    "isvc-storage-uri-twice-other-last": (
        isvc({"containers": [{"name": "kserve-container", "image": "registry.example.com/scorer:3", "env": [
            {"name": "STORAGE_URI", "value": GOOD}, {"name": "STORAGE_URI", "value": "s3://scratch/unreviewed-model"}]}]}),
        {"artifact.storage_uri_mismatch"},
        isvc({"containers": [{"name": "kserve-container", "image": "registry.example.com/scorer:3",
                              "env": [{"name": "STORAGE_URI", "value": GOOD}]}]}),
    ),
    "deployment-vllm-model-variable-twice": (
        obj("apps/v1", "Deployment", "llm", template(pod_spec(
            {**vllm("$(MODEL)"), "env": [
                {"name": "MODEL", "value": GOOD},
                {"name": "MODEL", "valueFrom": {"secretKeyRef": {"name": "llm", "key": "model"}}}]}))),
        {"artifact.unverifiable"},
        obj("apps/v1", "Deployment", "llm", template(pod_spec(
            {**vllm("$(MODEL)"), "env": [{"name": "MODEL", "value": GOOD}]}))),
    ),
    "deployment-vllm-env-from-then-env": (
        # envFrom first, then env: an explicit definition overrides the ConfigMap's, and a
        # variable built from an earlier one is expanded as the kubelet does
        obj("apps/v1", "Deployment", "llm", template(pod_spec(
            {**vllm("$(MODEL)"), "envFrom": [{"configMapRef": {"name": "llm"}}],
             "env": [{"name": "BUCKET", "value": "s3://scratch"}, {"name": "MODEL", "value": "$(BUCKET)/llm"}]}))),
        {"artifact.storage_uri_mismatch"},
        obj("apps/v1", "Deployment", "llm", template(pod_spec(
            {**vllm("$(MODEL)"), "envFrom": [{"configMapRef": {"name": "llm"}}],
             "env": [{"name": "BUCKET", "value": "s3://models"}, {"name": "MODEL", "value": "$(BUCKET)/credit-scoring/3"}]}))),
    ),
    "isvc-storage-uris-adapter-from-scratch": (
        isvc({"model": {"modelFormat": {"name": "huggingface"}, "storageUri": GOOD},
              "storageUris": [{"uri": GOOD, "mountPath": "/mnt/models/base"},
                              {"uri": "s3://scratch/adapter", "mountPath": "/mnt/models/adapter"}]}),
        {"artifact.storage_uri_mismatch"},
        isvc({"model": {"modelFormat": {"name": "huggingface"}, "storageUri": GOOD},
              "storageUris": [{"uri": GOOD, "mountPath": "/mnt/models/base"}]}),
    ),
    "deployment-mirrored-vllm-unannotated": (
        obj("apps/v1", "Deployment", "llm", template(pod_spec(
            {"name": "llm", "image": "registry.corp.example/ml/openai-api-server:0.6.3",
             "args": ["--model", "s3://scratch/unreviewed-llm"]})), None),
        {"evidence.model_reference"},
        obj("apps/v1", "Deployment", "llm", template(pod_spec(
            {"name": "llm", "image": "registry.corp.example/ml/openai-api-server:0.6.3", "args": ["--model", GOOD]}))),
    ),
    "deployment-mirrored-vllm-other-model": (
        obj("apps/v1", "Deployment", "llm", template(pod_spec(
            {"name": "llm", "image": "registry.corp.example/ml/openai-api-server:0.6.3",
             "args": ["--model", "s3://scratch/unreviewed-llm"]}))),
        {"artifact.storage_uri_mismatch"},
        obj("apps/v1", "Deployment", "llm", template(pod_spec(
            {"name": "llm", "image": "registry.corp.example/ml/openai-api-server:0.6.3", "args": ["--model", GOOD]}))),
    ),
    "deployment-home-built-hf-model-id": (
        obj("apps/v1", "Deployment", "llm", template(pod_spec(
            {"name": "llm", "image": "registry.corp.example/ml/server:1",
             "env": [{"name": "HF_MODEL_ID", "value": "s3://scratch/unreviewed-llm"}]})), None),
        {"evidence.model_reference"},
        obj("apps/v1", "Deployment", "llm", template(pod_spec(
            {"name": "llm", "image": "registry.corp.example/ml/server:1", "env": [{"name": "HF_MODEL_ID", "value": GOOD}]}))),
    ),
    # --- the other built-in workload kinds (issue 26, item 8)
    "daemonset-vllm-unannotated": (
        obj("apps/v1", "DaemonSet", "llm", template(pod_spec(vllm(GOOD))), None),
        {"evidence.model_reference"},
        obj("apps/v1", "DaemonSet", "llm", template(pod_spec(vllm(GOOD)))),
    ),
    "cronjob-vllm-other-model": (
        obj("batch/v1", "CronJob", "llm", {"schedule": "0 * * * *", "jobTemplate": {"spec": template(pod_spec(vllm(BAD)))}}),
        {"artifact.storage_uri_mismatch"},
        obj("batch/v1", "CronJob", "llm", {"schedule": "0 * * * *", "jobTemplate": {"spec": template(pod_spec(vllm(GOOD)))}}),
    ),
    "cronjob-vllm-annotated-on-its-template": (
        obj("batch/v1", "CronJob", "llm", {"schedule": "0 * * * *",
                                           "jobTemplate": {"spec": template(pod_spec(vllm(BAD)), ANNOTATED)}}, None),
        {"artifact.storage_uri_mismatch"},
        obj("batch/v1", "CronJob", "llm", {"schedule": "0 * * * *",
                                           "jobTemplate": {"spec": template(pod_spec(vllm(GOOD)), ANNOTATED)}}, None),
    ),
    "replicationcontroller-vllm-unannotated": (
        obj("v1", "ReplicationController", "llm", template(pod_spec(vllm(GOOD))), None),
        {"evidence.model_reference"},
        obj("v1", "ReplicationController", "llm", template(pod_spec(vllm(GOOD)))),
    ),
    "isvc-predictor-is-a-list": (
        isvc([sklearn(GOOD)]), {"evidence.model_reference"}, isvc(sklearn(GOOD)),
    ),
    "isvc-predictor-is-null": (
        isvc(None), {"evidence.model_reference"}, isvc(sklearn(GOOD)),
    ),
}


@pytest.fixture(scope="module")
def evidence(tmp_path_factory) -> Path:
    """The example evidence, with credit-scoring 3 also registering a model image (the
    schema's optional `artifacts` list)."""
    root = tmp_path_factory.mktemp("evidence")
    shutil.copytree(EVIDENCE, root, dirs_exist_ok=True)
    bundle_path = root / "credit-scoring" / "3" / "evidence.yaml"
    bundle = yaml.safe_load(bundle_path.read_text())
    bundle["artifacts"] = [{"component": "ollama", "image": f"ollama/ollama@{IMAGE_DIGEST}"},
                           {"component": "scorer", "image": f"registry.example.com/scorer@{IMAGE_DIGEST}"}]
    bundle_path.write_text(yaml.safe_dump(bundle, sort_keys=False))
    return root


def _write(folder: Path, objects: dict[str, dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, manifest in objects.items():
        manifest = {**manifest, "metadata": {**manifest["metadata"], "name": name}}
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return folder


def _check(policies: str, evidence: Path, folder: Path, environment: str) -> dict[str, dict]:
    result = run_cli("check", "--policy-dir", policies, "--evidence", str(evidence), "--environment", environment,
                     "--format", "json", str(folder))
    assert result.code in (0, 1), result.stdout + result.stderr
    report = result.json()
    decisions = {d["object"]["name"]: d for d in report["results"]}
    assert not report.get("skipped"), report.get("skipped")  # no serving object is skipped
    return decisions


@pytest.fixture(scope="module")
def runs(evidence, tmp_path_factory) -> dict[str, dict[str, dict]]:
    # The fixture adds `artifacts` to a signed bundle: on policies whose sign-offs review it, that
    # edit voids them (tests/test_trust_model.py). These cases are about reading the spec.
    policies = unreviewed_policies(tmp_path_factory.mktemp("unreviewed"), ["artifacts"])
    base = tmp_path_factory.mktemp("manifests")
    denied = _write(base / "denied", {name: case[0] for name, case in CASES.items()})
    twins = _write(base / "twins", {name: case[2] for name, case in CASES.items()})
    return {
        "production": _check(policies, evidence, denied, "production"),
        "staging": _check(policies, evidence, denied, "staging"),
        "twins": _check(policies, evidence, twins, "production"),
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_denied_in_production_with_the_exact_requirement(runs, case):
    decision = runs["production"][case]
    assert decision["allowed"] is False and decision["enforcement"] == "deny"
    assert {v["requirement"] for v in decision["violations"]} == CASES[case][1]


@pytest.mark.parametrize("case", sorted(CASES))
def test_warned_in_staging(runs, case):
    decision = runs["staging"][case]
    assert decision["allowed"] is True and decision["enforcement"] == "warn"
    assert {line.split("]")[0].lstrip("[") for line in decision["warnings"]} == CASES[case][1]


@pytest.mark.parametrize("case", sorted(CASES))
def test_compliant_twin_admitted(runs, case):
    decision = runs["twins"][case]
    assert decision["allowed"] is True and decision["violations"] == [], decision["violations"]


def test_messages_name_the_location_component_and_image(runs):
    def messages(case):
        return [v["message"] for v in runs["production"][case]["violations"]]

    assert messages("isvc-transformer") == [
        f"spec.transformer.containers[0].env.STORAGE_URI (component transformer) loads {BAD} but the evidence registers {GOOD}"]
    assert messages("seldon-v1-graph-child") == [
        f"spec.predictors[0].graph.children[0].children[0].modelUri (component predictors[0]) loads {BAD} "
        f"but the evidence registers {GOOD}"]
    assert messages("deployment-vllm-unannotated") == [
        "Deployment runs model server vLLM (image vllm/vllm-openai:v0.6.3) but has no model-gatekeeper.io/model "
        "annotation naming its model"]
    assert messages("deployment-mirrored-vllm-unannotated") == [
        "Deployment runs model server unidentified (by its --model argument) (image "
        "registry.corp.example/ml/openai-api-server:0.6.3) but has no model-gatekeeper.io/model annotation naming its model"]
    assert messages("deployment-mirrored-vllm-other-model") == [
        "spec.template.spec.containers[0].args[--model] (component llm) loads s3://scratch/unreviewed-llm "
        f"but the evidence registers {GOOD}"]
    assert messages("isvc-storage-uris-adapter-from-scratch") == [
        "spec.predictor.storageUris[1].uri (component predictor) loads s3://scratch/adapter "
        f"but the evidence registers {GOOD}"]
    assert messages("isvc-predictor-is-a-list") == ["spec.predictor: expected a map, found a list"]
    assert messages("isvc-predictor-is-null") == ["spec.predictor: expected a map, found null"]
    assert "the bucket of storage key minio is in a Secret" in messages("isvc-storage-block-secret")[0]
    assert messages("seldon-v2-storage-uri-is-a-list") == ["spec.storageUri: expected a string, found a list"]


def test_messages_name_the_container_and_the_configmap_or_secret(runs):
    def message(case):
        [violation] = runs["production"][case]["violations"]
        return violation["message"]

    assert message("deployment-tgi-env-from") == (
        "spec.template.spec.containers[0].envFrom (component tgi) loads environment from ConfigMap tgi-settings, "
        "Secret hf-token, which cannot be compared with the evidence: STORAGE_URI or the model server's model "
        "variable may be set in ConfigMap tgi-settings, Secret hf-token, which the gate does not read")
    assert message("isvc-storage-uri-from-a-configmap") == (
        "spec.predictor.containers[0].env.STORAGE_URI (component kserve-container) loads STORAGE_URI from "
        "ConfigMap model (key uri), which cannot be compared with the evidence: STORAGE_URI is read from "
        "ConfigMap model (key uri), which the gate does not read")
    assert message("statefulset-triton-arg-from-a-secret").endswith(
        "--model-repository is $(REPO) and REPO is read from Secret triton (key repo), which the gate does not read")
    assert message("deployment-vllm-arg-through-env-from").endswith(
        "--model is $(MODEL) and MODEL is read from the environment from ConfigMap llm, which the gate does not read")
    assert message("deployment-model-image-by-tag") == (
        "spec.template.spec.containers[0].image (component scorer) loads registry.example.com/scorer:3, which "
        "cannot be compared with the evidence: the object names no other artifact location, so its images are "
        "taken to carry the model; the image is pinned by tag only, not by digest")
    assert {v["message"].split(" loads ")[0] for v in runs["production"]["deployment-model-image-unregistered-digest"][
        "violations"]} == {"spec.template.spec.containers[0].image (component scorer)",
                           "spec.template.spec.containers[1].image (component proxy)"}
    assert message("seldon-v2-model-without-location").endswith(
        "the Model names no storage URI, model argument, STORAGE_URI or image the model is loaded from")
    assert message("deployment-tgi-model-id-twice-secret-last") == (
        "spec.template.spec.containers[0].env.MODEL_ID (component tgi) loads MODEL_ID from Secret llm (key model), "
        "which cannot be compared with the evidence: MODEL_ID is read from Secret llm (key model), which the gate "
        "does not read")
    assert message("deployment-vllm-model-variable-twice").endswith(
        "--model is $(MODEL) and MODEL is read from Secret llm (key model), which the gate does not read")
    assert message("pod-owned-ephemeral-vllm-unannotated") == (
        "Pod runs model server vLLM (image vllm/vllm-openai:v0.6.3) in a container added to the running Pod "
        "(spec.ephemeralContainers) but has no model-gatekeeper.io/model annotation naming its model")


def test_ordinary_and_owned_workloads_are_skipped_with_their_reason(opa_url, evidence, tmp_path):
    owned = obj("v1", "Pod", "owned", pod_spec(vllm(GOOD)), None, ownerReferences=[
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "llm-7d9", "uid": "u1", "controller": True}])
    plain = obj("apps/v1", "Deployment", "web", template(pod_spec({"name": "web", "image": "nginx:1.27"})), None)
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}
    by_isvc = obj("apps/v1", "Deployment", "by-isvc", template(pod_spec(
        {"name": "kserve-container", "image": "kserve/sklearnserver:v0.14"})), None, ownerReferences=[
        {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "name": "scorer", "uid": "u2",
         "controller": True}])
    # a Deployment is not excused by any owner: only by a serving kind the gate judged
    by_rs = {**by_isvc, "metadata": {**by_isvc["metadata"], "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": "u3", "controller": True}]}}
    # kubectl debug's busybox in a Pod naming a ReplicaSet: no model server, not gated
    debugged = obj("v1", "Pod", "debugged", {"containers": [{"name": "web", "image": "nginx:1.27"}],
                                             "ephemeralContainers": [{"name": "debugger", "image": "busybox:1.36"}]},
                   None, ownerReferences=OWNED)
    folder = _write(tmp_path, {"owned": owned, "web": plain, "settings": config, "by-isvc": by_isvc, "by-rs": by_rs,
                               "debugged": debugged})
    result = run_cli("check", "--opa-url", opa_url, "--evidence", str(evidence), "--format", "json", str(folder))
    assert result.code == 1, result.stderr
    report = result.json()
    # A manifest is made by hand, and only the ReplicaSet controller makes a ReplicaSet's Pods
    # (the table's `controllers`): the Pod naming one is judged as admission would judge it.
    # So is a Deployment naming an InferenceService: only KServe's controller makes those.
    assert [(d["object"]["name"], d["allowed"]) for d in report["results"]] == [
        ("by-isvc", False), ("by-rs", False), ("owned", False)]
    [by_isvc_line] = [v["message"] for d in report["results"] if d["object"]["name"] == "by-isvc"
                      for v in d["violations"]]
    assert by_isvc_line.endswith(
        "its owner InferenceService/scorer exempts only what the `controllers` of the row InferenceService "
        "(serving.kserve.io) of the serving-kinds table create (system:serviceaccount:kserve:kserve-controller-manager), "
        "and `gatekeeper check` takes a manifest as made by hand; if the operator runs as another service account, "
        "name it there")
    reasons = {s["object"]["name"]: s["reason"] for s in report["skipped"]}
    assert reasons == {
        "web": "no model-gatekeeper.io/model annotation and no known model server",
        "settings": "kind is not gated",
        "debugged": "no model-gatekeeper.io/model annotation and no known model server",
    }


@pytest.mark.parametrize("ref", ["models:/../3", "models:/credit-scoring/..", "models:/./3",
                                 "models:/credit-scoring@..", "models:/cr\x07edit/3", "models:/" + "a" * 201 + "/3"])
def test_plain_names_only_cli_exits_2_with_one_line(opa_url, evidence, tmp_path, ref):
    manifest = obj("mlops.seldon.io/v1alpha1", "Model", "scorer", {"storageUri": GOOD}, {"model-gatekeeper.io/model": ref})
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(manifest))
    result = run_cli("check", "--opa-url", opa_url, "--evidence", str(evidence), str(tmp_path / "m.yaml"))
    assert result.code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "model-gatekeeper.io/model" in lines[0], result.stderr
