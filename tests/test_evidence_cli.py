"""`gatekeeper evidence fairness|digest`: evidence a data scientist produces locally."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import EVIDENCE, MANIFESTS, ROOT, run_cli


# --- fairness ----------------------------------------------------------------------------


def predictions(groups: dict[str, tuple[int, int, int, int]], attribute: str = "sex") -> pd.DataFrame:
    """Rows per group from (positives predicted positive, positives predicted negative,
    negatives predicted positive, negatives predicted negative)."""
    rows = []
    for group, (tp, fn, fp, tn) in groups.items():
        rows += [(group, 1, 1)] * tp + [(group, 1, 0)] * fn + [(group, 0, 1)] * fp + [(group, 0, 0)] * tn
    return pd.DataFrame(rows, columns=[attribute, "label", "score_label"])


def expected(frame: pd.DataFrame, attribute: str) -> dict[str, float]:
    """The definitions, computed by hand: selection rate, TPR and FPR per group."""
    by = frame.groupby(attribute)
    selection = by["score_label"].mean()
    tpr = frame[frame.label == 1].groupby(attribute)["score_label"].mean()
    fpr = frame[frame.label == 0].groupby(attribute)["score_label"].mean()
    return {
        "demographic_parity_ratio": selection.min() / selection.max(),
        "demographic_parity_difference": selection.max() - selection.min(),
        "equalized_odds_difference": max(tpr.max() - tpr.min(), fpr.max() - fpr.min()),
        "min_group_size": int(by.size().min()),
    }


def test_fairness_block_per_sensitive_attribute(tmp_path):
    frame = predictions({"F": (30, 20, 10, 40), "M": (70, 30, 30, 70)})
    frame["age_band"] = ["<40", "40+"] * (len(frame) // 2)
    frame.to_csv(tmp_path / "predictions.csv", index=False)
    result = run_cli("evidence", "fairness", "--predictions", str(tmp_path / "predictions.csv"), "--label", "label",
                     "--prediction", "score_label", "--sensitive", "sex,age_band")
    assert result.code == 0, result.stderr
    block = yaml.safe_load(result.stdout)["fairness"]
    assert list(block) == ["sex", "age_band"]
    for attribute in ("sex", "age_band"):
        want = expected(frame, attribute)
        assert block[attribute] == {k: pytest.approx(v) for k, v in want.items()}
    assert block["sex"]["demographic_parity_ratio"] == pytest.approx(0.8)
    assert block["sex"]["min_group_size"] == 100


def test_fairness_written_into_a_bundle_is_what_the_gate_decides_on(cli, tmp_path):
    evidence = tmp_path / "evidence"
    shutil.copytree(EVIDENCE, evidence)
    # Women are selected at 0.31, men at 0.50: a demographic parity ratio of 0.62.
    frame = predictions({"F": (25, 25, 6, 44), "M": (50, 0, 0, 50)})
    frame.to_json(tmp_path / "predictions.jsonl", orient="records", lines=True)
    bundle = evidence / "credit-scoring" / "3"
    result = run_cli("evidence", "fairness", "--predictions", str(tmp_path / "predictions.jsonl"), "--label", "label",
                     "--prediction", "score_label", "--sensitive", "sex", "--bundle", str(bundle))
    assert result.code == 0, result.stderr
    assert f"wrote fairness for sex into {bundle / 'evidence.yaml'}" in result.stderr
    written = yaml.safe_load((bundle / "evidence.yaml").read_text())
    assert written["fairness"]["sex"]["demographic_parity_ratio"] == pytest.approx(0.62)
    assert "age_band" in written["fairness"]  # attributes not recomputed are kept
    decided = cli("check", "--evidence", str(evidence), "--format", "json",
                  str(MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml"))
    assert decided.code == 1
    [decision] = decided.json()["results"]
    [violation] = [v for v in decision["violations"] if v["requirement"] == "fairness.demographic_parity_ratio"]
    assert violation["observed"] == pytest.approx(0.62)


def test_fairness_with_text_outcomes_needs_the_favourable_one(tmp_path):
    frame = predictions({"F": (30, 20, 10, 40), "M": (70, 30, 30, 70)})
    for column in ("label", "score_label"):
        frame[column] = frame[column].map({1: "approved", 0: "declined"})
    frame.to_csv(tmp_path / "p.csv", index=False)
    args = ["evidence", "fairness", "--predictions", str(tmp_path / "p.csv"), "--label", "label",
            "--prediction", "score_label", "--sensitive", "sex"]
    refused = run_cli(*args)
    assert refused.code == 2 and "is not binary 0/1" in refused.stderr and "--pos-label" in refused.stderr
    computed = run_cli(*args, "--pos-label", "approved")
    assert computed.code == 0
    assert yaml.safe_load(computed.stdout)["fairness"]["sex"]["demographic_parity_ratio"] == pytest.approx(0.8)


@pytest.mark.parametrize("args, words", [
    (["--sensitive", "race"], "no column 'race' in the predictions"),
    (["--sensitive", "sex", "--label", "nope"], "no column 'nope'"),
    (["--sensitive", "one"], "has a single group"),
])
def test_fairness_bad_input_exits_2_with_one_line(tmp_path, args, words):
    frame = predictions({"F": (3, 2, 1, 4), "M": (7, 3, 3, 7)})
    frame["one"] = "all"
    frame.to_csv(tmp_path / "p.csv", index=False)
    base = {"--predictions": str(tmp_path / "p.csv"), "--label": "label", "--prediction": "score_label"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    result = run_cli("evidence", "fairness", *[item for pair in base.items() for item in pair])
    assert result.code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], result.stderr


def test_fairlearn_stays_off_the_webhooks_import_path():
    code = ("import sys, gatekeeper.cli.app, gatekeeper.webhook.app, gatekeeper.evidence.mlflow.source; "
            "print(sorted(m for m in ('fairlearn', 'pandas', 'sklearn', 'mlflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


# --- digest ------------------------------------------------------------------------------


# Golden values, produced once with the real model-signing library (1.1.1; its import also
# needs pyopenssl), signing with a throwaway P-256 key the folder `model_dir` writes (as
# `model/`) and the one-file model of `test_digest_of_a_single_file` (as `single/model.onnx`):
#
#   pip install model-signing==1.1.1 pyopenssl
#   openssl ecparam -name prime256v1 -genkey -noout -out key.pem
#   model_signing sign key model --private_key key.pem --signature model.sig
#   model_signing sign key single/model.onnx --private_key key.pem --signature single.sig
#   for sig in model.sig single.sig; do jq -r .dsseEnvelope.payload $sig | base64 -d |
#     jq -r '.subject[0].digest.sha256, (.predicate.resources[] | "\(.name) \(.digest)")'; done
#
# The first line of each is the subject digest of the signed statement, the model's digest;
# the others are the per-file digests in the library's order.
MODEL_DIGEST = "sha256:b01c8ca0dad5494c84d759787b0ac7b3883450c3e367a211a7dd0e0d5b9c3c2e"
MODEL_FILES = [
    ("MLmodel", "7f8f4a879eefb3f9fed9c6af4077c9acb0db066b2906d6570c42913478686b0f"),
    ("a/b", "233562de1a0288b139c4fa40b7d189f806e906eeb048517aeb67f34ac0e2faf1"),
    ("a-b", "af9d2c92ddc38ca77b3cd29e944c9b61928032808d3a3cb6c3a3c8965067291e"),
    ("model.pkl", "c8f5d0341d54d951a71b136e6e2afcb14d11ed8489a7ae126a8fee0df6ecf193"),
    ("tokenizer/vocab.txt", "4a1e67f2fe1d1cc7b31d0ca2ec441da4778203a036a77da10344c85e24ff0f92"),
]
SINGLE_FILE_DIGEST = "sha256:81fe5cd2733e93a400f5d5d0420e96119844a92a5a102568290115ef42697aae"


@pytest.fixture
def model_dir(tmp_path) -> Path:
    """The model the golden values were computed over (keep its bytes as they are)."""
    files = {"MLmodel": b"flavors: {}\n", "model.pkl": bytes(range(256)) * 16, "a/b": b"nested", "a-b": b"dash",
             "tokenizer/vocab.txt": b"hello\nworld\n"}
    folder = tmp_path / "model"
    for rel, content in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(content)
    # Not part of the model, as model-signing's defaults have it.
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / ".gitignore").write_text("*.tmp\n")
    return folder


def test_digest_is_the_model_signing_digest(model_dir):
    result = run_cli("evidence", "digest", str(model_dir))
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == MODEL_DIGEST
    listed = run_cli("evidence", "digest", str(model_dir), "--manifest").json()
    assert listed["digest"] == MODEL_DIGEST
    # Path-component order, as model-signing orders them: a/b before a-b.
    assert [(f["path"], f["sha256"]) for f in listed["files"]] == MODEL_FILES


def test_digest_changes_with_any_byte_and_ignores_git_files(model_dir):
    folder = model_dir
    before = run_cli("evidence", "digest", str(folder)).stdout
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/other\n")
    assert run_cli("evidence", "digest", str(folder)).stdout == before
    (folder / "tokenizer" / "vocab.txt").write_bytes(b"hello\nworld!\n")
    assert run_cli("evidence", "digest", str(folder)).stdout != before


def test_digest_of_a_single_file(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    result = run_cli("evidence", "digest", str(tmp_path / "model.onnx"))
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == SINGLE_FILE_DIGEST


def test_digest_recorded_in_the_bundle_binds_the_signoffs(cli, model_dir, tmp_path):
    folder = model_dir
    evidence = tmp_path / "evidence"
    shutil.copytree(EVIDENCE, evidence)
    result = run_cli("evidence", "digest", str(folder), "--bundle", str(evidence / "credit-scoring" / "3"))
    assert result.code == 0, result.stderr
    bundle = yaml.safe_load((evidence / "credit-scoring" / "3" / "evidence.yaml").read_text())
    assert bundle["artifact"] == {"uri": "s3://models/credit-scoring/3", "digest": MODEL_DIGEST}
    # The example sign-offs were made for the old digest: they no longer count.
    decided = cli("check", "--evidence", str(evidence), "--format", "json",
                  str(MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml"))
    assert decided.code == 1
    [decision] = decided.json()["results"]
    assert {v["requirement"] for v in decision["violations"]} == {"signoff.role"}
    assert all("subject digest does not match artifact digest" in v["message"] for v in decision["violations"])


@pytest.mark.parametrize("setup, words", [
    (lambda p: p.mkdir(), "contains no regular files"),
    (lambda p: None, "does not exist"),
    (lambda p: (p.mkdir(), (p / "link").symlink_to("/etc/hostname")), "is a symbolic link"),
])
def test_digest_refuses_what_is_not_a_model(tmp_path, setup, words):
    target = tmp_path / "model"
    setup(target)
    result = run_cli("evidence", "digest", str(target))
    assert result.code == 2 and words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
