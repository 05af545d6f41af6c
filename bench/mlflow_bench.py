"""Webhook latency with evidence from MLflow, cold and warm cache, beside the file source.

Real processes end to end: `gatekeeper serve` (its own OPA, SQLite decision log) answering
AdmissionReviews over HTTP for the compliant credit-scoring example, with evidence either
from examples/evidence or from a real `mlflow server` holding the same bundle (published
with `gatekeeper evidence publish`). Requests are sequential on one keep-alive connection.

Gates being compared run side by side and get one review each in turn, so machine noise
(2 shared cores) falls on all of them alike.

- warm: the evidence cache is filled once, then every review hits it;
- cold: the cache TTL is 0, so every review reads the evidence again (the MLflow source:
  about ten registry requests);
- alias: `models:/credit-scoring@champion`, resolved on every review by design;
- hung registry: MLflow frozen (SIGSTOP): every review is answered within the evidence
  timeout (1 s) plus the decision, denied with evidence.unavailable.

Run: .venv/bin/python -m bench.mlflow_bench   (writes bench-results/mlflow.json)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
from mlflow import MlflowClient

from gatekeeper.evidence.mlflow.publish import publish_bundle

from .common import ROOT, summary, write_result

sys.path.insert(0, str(ROOT))
from tests.mlflow.server import MlflowServer  # noqa: E402
from tests.webhook.server import GateProcess, manifest, review  # noqa: E402

EVIDENCE = ROOT / "examples" / "evidence"
WARM, COLD, HUNG = 1000, 150, 5


def ms(values: list[float]) -> dict[str, float]:
    return {key: (round(value * 1000, 3) if key != "n" else value) for key, value in summary(values).items()}


def interleaved(gates: dict[str, tuple[GateProcess, dict]], count: int, expect: bool = True) -> dict[str, list[float]]:
    """Round-robin one review to each gate, `count` rounds: machine noise hits all alike."""
    out: dict[str, list[float]] = {name: [] for name in gates}
    clients = {name: httpx.Client(timeout=10) for name in gates}
    try:
        for _ in range(count):
            for name, (gate, body) in gates.items():
                started = time.perf_counter()
                answer = clients[name].post(f"{gate.url}/validate/production", json=body)
                out[name].append(time.perf_counter() - started)
                assert answer.json()["response"]["allowed"] is expect, answer.text
    finally:
        for client in clients.values():
            client.close()
    return out


def started(workdir: Path, name: str, args: list[str], ttl: str) -> GateProcess:
    (workdir / name).mkdir(parents=True)
    return GateProcess(workdir / name, *args, env={"GATEKEEPER_EVIDENCE_CACHE_TTL": ttl}).start()


def compare(workdir: Path, runs: dict[str, tuple[list[str], dict]], count: int, ttl: str, warmup: int) -> dict:
    gates = {name: (started(workdir, name, args, ttl), body) for name, (args, body) in runs.items()}
    try:
        interleaved(gates, warmup)
        return {name: ms(values) for name, values in interleaved(gates, count).items()}
    finally:
        for gate, _ in gates.values():
            gate.stop()


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="gk-mlflow-bench-"))
    registry = MlflowServer(workdir / "mlflow").start()
    try:
        client = MlflowClient(tracking_uri=registry.url, registry_uri=registry.url)
        experiment = client.create_experiment("bench")
        client.create_registered_model("credit-scoring")
        for number in range(1, 4):
            run = client.create_run(experiment)
            client.create_model_version("credit-scoring", f"s3://models/credit-scoring/{number}",
                                        run_id=run.info.run_id)
        publish_bundle(EVIDENCE / "credit-scoring" / "3", registry.url)
        client.set_registered_model_alias("credit-scoring", "champion", "3")

        compliant = manifest("credit-scoring-inferenceservice.yaml")
        by_alias = json.loads(json.dumps(compliant))
        by_alias["metadata"]["annotations"]["model-gatekeeper.io/model"] = "models:/credit-scoring@champion"
        body, alias_body = review(compliant), review(by_alias)
        files = ["--evidence", str(EVIDENCE)]
        mlflow = ["--mlflow", registry.url]
        result: dict = {"requests": {"warm": WARM, "cold": COLD}, "unit": "ms"}
        warm = compare(workdir, {"file_warm": (files, body), "mlflow_warm": (mlflow, body),
                                 "mlflow_alias_warm": (mlflow, alias_body)}, WARM, "300", 50)
        cold = compare(workdir, {"file_cold": (files, body), "mlflow_cold": (mlflow, body)}, COLD, "0", 5)
        result.update(warm)
        result.update(cold)

        gate = started(workdir, "hung", mlflow, "0")
        try:
            interleaved({"hung": (gate, body)}, 3)
            registry.pause()
            try:
                result["mlflow_hung"] = ms(interleaved({"hung": (gate, body)}, HUNG, expect=False)["hung"])
            finally:
                registry.resume()
        finally:
            gate.stop()
    finally:
        registry.stop()
    result["warm_p99_over_file_ms"] = round(result["mlflow_warm"]["p99"] - result["file_warm"]["p99"], 3)
    result["warm_median_over_file_ms"] = round(result["mlflow_warm"]["median"] - result["file_warm"]["median"], 3)
    result["evidence_timeout_ms"] = 1000
    path = write_result("mlflow", result)
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
