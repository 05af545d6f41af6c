"""Small helpers over the `kubernetes` client for the end-to-end tests.

Every write goes through the generated `*_with_http_info` methods, which return the
response headers: the API server relays an admission webhook's warnings as `Warning:`
headers (RFC 7234 form `299 - "text"`, one header per warning), and that is how a client
such as kubectl shows them.
"""

from __future__ import annotations

import copy
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from kubernetes import client
from kubernetes.client.rest import ApiException

# kind -> (group, version, plural); the apps/v1 workloads go through the same generic
# CustomObjectsApi paths (/apis/{group}/{version}/namespaces/{ns}/{plural}) as the CRDs.
RESOURCES: dict[str, tuple[str, str, str]] = {
    "InferenceService": ("serving.kserve.io", "v1beta1", "inferenceservices"),
    "Model": ("mlops.seldon.io", "v1alpha1", "models"),
    "Deployment": ("apps", "v1", "deployments"),
    "StatefulSet": ("apps", "v1", "statefulsets"),
    "SeldonDeployment": ("machinelearning.seldon.io", "v1", "seldondeployments"),
    "TrainedModel": ("serving.kserve.io", "v1alpha1", "trainedmodels"),
    "LLMInferenceService": ("serving.kserve.io", "v1alpha1", "llminferenceservices"),
    "LeaderWorkerSet": ("leaderworkerset.x-k8s.io", "v1", "leaderworkersets"),
}
MODEL_ANNOTATION = "model-gatekeeper.io/model"
_WARNING = re.compile(r'^\s*(\d{3})\s+(\S+)\s+"((?:[^"\\]|\\.)*)"')


@dataclass
class Written:
    """What the API server answered to an admitted write."""

    object: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def parse_warnings(headers: Any) -> list[str]:
    """The texts of the `Warning:` headers (each `299 - "text"`, quotes and backslashes escaped)."""
    if headers is None:
        return []
    values = headers.getlist("Warning") if hasattr(headers, "getlist") else [
        v for k, v in dict(headers).items() if k.lower() == "warning"
    ]
    texts = []
    for value in values:
        # The API server passes a webhook's UTF-8 through; http.client decodes header bytes
        # as latin-1 (RFC 7230 obs-text), so undo that to read what was sent.
        try:
            value = value.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
        match = _WARNING.match(value)
        texts.append(re.sub(r"\\(.)", r"\1", match.group(3)) if match else value)
    return texts


def status_message(exc: ApiException) -> str:
    """`message` of the metav1.Status the API server answered with (or the raw body)."""
    try:
        return json.loads(exc.body)["message"]
    except (TypeError, ValueError, KeyError):
        return str(exc.body)


def requirement_ids(message: str) -> set[str]:
    """Requirement IDs of the violation lines `[<requirement>] <model>@<version>: ...`."""
    return set(re.findall(r"^\[([a-z_]+\.[a-z_]+)\] ", message, flags=re.MULTILINE))


def with_namespace(obj: dict[str, Any], namespace: str, name: str | None = None) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = namespace
    if name:
        obj["metadata"]["name"] = name
    return obj


class Kube:
    """Create / replace / get / delete gated kinds, returning the warnings with the object."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)

    def _where(self, obj: dict[str, Any]) -> tuple[str, str, str, str]:
        group, version, plural = RESOURCES[obj["kind"]]
        return group, version, obj["metadata"]["namespace"], plural

    def create(self, obj: dict[str, Any], *, dry_run: str | None = None) -> Written:
        group, version, namespace, plural = self._where(obj)
        kwargs = {"dry_run": dry_run} if dry_run else {}
        data, _, headers = self.custom.create_namespaced_custom_object_with_http_info(
            group, version, namespace, plural, obj, **kwargs
        )
        return Written(data, parse_warnings(headers))

    def replace(self, obj: dict[str, Any], *, dry_run: str | None = None) -> Written:
        group, version, namespace, plural = self._where(obj)
        kwargs = {"dry_run": dry_run} if dry_run else {}
        data, _, headers = self.custom.replace_namespaced_custom_object_with_http_info(
            group, version, namespace, plural, obj["metadata"]["name"], obj, **kwargs
        )
        return Written(data, parse_warnings(headers))

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        group, version, plural = RESOURCES[kind]
        try:
            return self.custom.get_namespaced_custom_object(group, version, namespace, plural, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def delete(self, kind: str, namespace: str, name: str) -> None:
        group, version, plural = RESOURCES[kind]
        try:
            self.custom.delete_namespaced_custom_object(group, version, namespace, plural, name)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def rejected(self, write: Callable[[], Any]) -> ApiException:
        """Run a write that must be refused; return the API server's error."""
        try:
            result = write()
        except ApiException as exc:
            return exc
        raise AssertionError(f"the API server admitted a write that must be refused: {result!r}")


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 60.0, interval: float = 0.2) -> Any:
    """Call probe() until it returns something truthy; fail with the last error or value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
            last = value
        except Exception as exc:  # noqa: BLE001 - keep trying; report the last one
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")
