"""`gatekeeper evidence fairness|digest`: evidence a data scientist produces locally."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import EVIDENCE, MANIFESTS, ROOT, run_cli, unreviewed_policies


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
    before = datetime.now(timezone.utc).replace(microsecond=0)
    result = run_cli("evidence", "fairness", "--predictions", str(tmp_path / "predictions.csv"), "--label", "label",
                     "--prediction", "score_label", "--sensitive", "sex,age_band", "--favourable", "1")
    assert result.code == 0, result.stderr
    block = yaml.safe_load(result.stdout)["fairness"]
    assert list(block) == ["sex", "age_band"]
    for attribute in ("sex", "age_band"):
        want = expected(frame, attribute)
        rates = frame.groupby(attribute)["score_label"].mean()
        evaluated_at = block[attribute].pop("evaluated_at")
        assert before <= datetime.fromisoformat(evaluated_at.replace("Z", "+00:00")) <= datetime.now(timezone.utc)
        assert block[attribute] == {**{k: pytest.approx(v) for k, v in want.items()}, "favourable_outcome": "1",
                                    "selection_rates": {g: pytest.approx(r) for g, r in rates.items()}}
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
                     "--prediction", "score_label", "--sensitive", "sex", "--pos-label", "1", "--bundle", str(bundle))
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
    assert refused.code == 2 and refused.stderr.count("\n") == 1
    assert "name the favourable outcome with --favourable (values of 'label' and 'score_label': approved, declined)" \
        in refused.stderr
    typo = run_cli(*args, "--favourable", "approve")
    assert typo.code == 2 and "no row of 'label' or 'score_label' is the favourable outcome 'approve'" in typo.stderr
    computed = run_cli(*args, "--favourable", "approved")
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
    base = {"--predictions": str(tmp_path / "p.csv"), "--label": "label", "--prediction": "score_label",
            "--favourable": "1"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    result = run_cli("evidence", "fairness", *[item for pair in base.items() for item in pair])
    assert result.code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], result.stderr


def credit_table(approved: dict[str, int], rows: int = 200) -> pd.DataFrame:
    """A credit model's predictions: `default` is 1 for a default, so approval is 0. Per group,
    `approved[group]` of `rows` applicants are predicted not to default (and the labels agree
    but for a few, so every group has both outcomes)."""
    frames = []
    for group, yes in approved.items():
        prediction = [0] * yes + [1] * (rows - yes)
        label = prediction[:]
        label[0], label[-1] = 1, 0  # one approved applicant defaulted, one declined one would not have
        frames.append(pd.DataFrame({"sex": group, "default": label, "prediction": prediction}))
    return pd.concat(frames, ignore_index=True)


def fairness_into(bundle: Path, table: Path, *extra: str):
    return run_cli("evidence", "fairness", "--predictions", str(table), "--label", "default",
                   "--prediction", "prediction", "--sensitive", "sex", "--bundle", str(bundle), *extra)


def test_a_credit_model_is_judged_on_approvals_not_defaults(cli, tmp_path):
    """Women approved at 0.30, men at 0.40: approval parity 0.75, below 0.80. Parity of predicted
    defaults (0.70 and 0.60) would be 0.86, and the model would pass: the producer must not guess."""
    evidence = tmp_path / "evidence"
    shutil.copytree(EVIDENCE, evidence)
    bundle = evidence / "credit-scoring" / "3"
    credit_table({"F": 60, "M": 80}).to_csv(tmp_path / "credit.csv", index=False)
    before = (bundle / "evidence.yaml").read_text()

    refused = fairness_into(bundle, tmp_path / "credit.csv")
    assert refused.code == 2 and refused.stdout == "", refused.stdout
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("gatekeeper: name the favourable outcome with --favourable (values of 'default' "
                                     "and 'prediction': 0, 1)")
    assert (bundle / "evidence.yaml").read_text() == before  # nothing written

    done = fairness_into(bundle, tmp_path / "credit.csv", "--favourable", "0")
    assert done.code == 0, done.stderr
    sex = yaml.safe_load((bundle / "evidence.yaml").read_text())["fairness"]["sex"]
    assert sex["favourable_outcome"] == "0"
    assert sex["selection_rates"] == {"F": pytest.approx(0.30), "M": pytest.approx(0.40)}
    assert sex["demographic_parity_ratio"] == pytest.approx(0.75)
    decided = cli("check", "--evidence", str(evidence), "--format", "json",
                  str(MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml"))
    assert decided.code == 1, decided.stdout + decided.stderr
    [decision] = decided.json()["results"]
    [violation] = [v for v in decision["violations"] if v["requirement"] == "fairness.demographic_parity_ratio"]
    assert violation["observed"] == pytest.approx(0.75)
    assert violation["line"] == ("[fairness.demographic_parity_ratio] credit-scoring@3: demographic parity ratio for "
                                 "'sex' is 0.75, below 0.80")


def test_results_without_their_favourable_outcome_are_denied_where_required(cli, tmp_path):
    evidence = tmp_path / "evidence"
    shutil.copytree(EVIDENCE, evidence)
    path = evidence / "credit-scoring" / "3" / "evidence.yaml"
    raw = yaml.safe_load(path.read_text())
    del raw["fairness"]["age_band"]["favourable_outcome"]
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    decided = run_cli("check", "--evidence", str(evidence), "--policy-dir", unreviewed_policies(tmp_path, ["pii_scan", "fairness"]), "--format", "json",
                  str(MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml"))
    assert decided.code == 1
    [decision] = decided.json()["results"]
    assert [v["line"] for v in decision["violations"]] == [
        "[fairness.favourable_outcome] credit-scoring@3: fairness results for 'age_band' do not name the favourable "
        "outcome they were measured on (favourable_outcome)"]


def test_a_parity_difference_of_exactly_the_limit_passes_whatever_the_float_noise(cli, tmp_path):
    """Approvals of 0.70 and 0.80: 0.8 - 0.7 is 0.10000000000000009 in floating point; the
    policy judges at 6 decimals, so it is 0.1 and meets the 0.10 limit."""
    evidence = tmp_path / "evidence"
    shutil.copytree(EVIDENCE, evidence)
    bundle = evidence / "credit-scoring" / "3"
    credit_table({"F": 140, "M": 160}).to_csv(tmp_path / "credit.csv", index=False)
    assert fairness_into(bundle, tmp_path / "credit.csv", "--favourable", "0").code == 0
    sex = yaml.safe_load((bundle / "evidence.yaml").read_text())["fairness"]["sex"]
    assert sex["demographic_parity_difference"] != 0.1 and round(sex["demographic_parity_difference"], 6) == 0.1
    decided = run_cli("check", "--evidence", str(evidence), "--policy-dir", unreviewed_policies(tmp_path, ["pii_scan", "fairness"]), "--format", "json",
                  str(MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml"))
    assert decided.code == 0, decided.stdout


def test_a_fairness_result_ages_warned_then_denied(cli, tmp_path):
    """High risk limits fairness results to 365 days and warns 30 days ahead."""
    evidence = tmp_path / "evidence"
    shutil.copytree(EVIDENCE, evidence)
    bundle = evidence / "credit-scoring" / "3"
    credit_table({"F": 150, "M": 160}).to_csv(tmp_path / "credit.csv", index=False)
    assert fairness_into(bundle, tmp_path / "credit.csv", "--favourable", "0").code == 0
    raw = yaml.safe_load((bundle / "evidence.yaml").read_text())
    evaluated = datetime.fromisoformat(raw["fairness"]["sex"]["evaluated_at"].replace("Z", "+00:00"))
    # The other dated evidence of the example redone at the same moment.
    raw["pii_scan"]["scanned_at"] = raw["fairness"]["age_band"]["evaluated_at"] = raw["fairness"]["sex"]["evaluated_at"]
    (bundle / "evidence.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    manifest = str(MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml")
    policies = unreviewed_policies(tmp_path, ["pii_scan", "fairness"])

    def at(moment: datetime):
        return run_cli("check", "--evidence", str(evidence), "--policy-dir", policies, "--format", "json", "--at",
                   moment.isoformat().replace("+00:00", "Z"), manifest)

    stale_at = (evaluated + timedelta(days=365)).isoformat().replace("+00:00", "Z")
    quiet = at(evaluated + timedelta(days=300))
    assert quiet.code == 0 and quiet.json()["results"][0]["warnings"] == []
    warned = at(evaluated + timedelta(days=355))
    assert warned.code == 0, warned.stdout
    [decision] = warned.json()["results"]
    assert decision["warnings"] == [
        f"[evidence.stale] credit-scoring@3: {name} result expires in 10 days ({stale_at})"
        for name in ("fairness.age_band", "fairness.sex", "pii_scan")]
    assert {"kind": "evidence", "model": "credit-scoring", "version": "3", "name": "fairness.sex",
            "requirement": "evidence.stale", "source": "fairness.sex.evaluated_at",
            "expires_at": stale_at} in decision["expiries"]
    denied = at(evaluated + timedelta(days=365, hours=3))
    assert denied.code == 1
    [decision] = denied.json()["results"]
    when = raw["fairness"]["sex"]["evaluated_at"]
    assert sorted((v["requirement"], v["message"], v["observed"]) for v in decision["violations"]) == [
        ("evidence.stale", f"{field} is 365.2 days old ({when}), above the 365 days the class allows", 365.2)
        for field in ("fairness.age_band.evaluated_at", "fairness.sex.evaluated_at", "pii_scan.scanned_at")]


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


# --- init ---------------------------------------------------------------------------------


def test_init_starts_the_bundle_the_producers_fill(cli, tmp_path):
    bundle = tmp_path / "evidence" / "credit-scoring" / "21"
    (tmp_path / "card.md").write_text("# Card\n\n## Intended use\nScoring.\n")
    made = run_cli("evidence", "init", "credit-scoring", "21", "--risk-class", "high", "--owner", "ana@example.com",
                   "--model-card", str(tmp_path / "card.md"), "--bundle", str(bundle))
    assert made.code == 0, made.stderr
    assert made.stderr == (f"wrote {bundle / 'evidence.yaml'}; fill it with `gatekeeper evidence <producer> ... "
                           f"--bundle {bundle}`\n")
    assert yaml.safe_load((bundle / "evidence.yaml").read_text()) == {
        "apiVersion": "model-gatekeeper.io/v1", "kind": "EvidenceBundle", "model": "credit-scoring", "version": "21",
        "risk_class": "high", "owner": "ana@example.com", "model_card": {"path": "model-card.md"}}
    assert (bundle / "model-card.md").read_text() == (tmp_path / "card.md").read_text()
    # a producer fills it, and the gate reads it (denied for what is still missing, not for its form)
    credit_table({"F": 150, "M": 160}).to_csv(tmp_path / "credit.csv", index=False)
    assert fairness_into(bundle, tmp_path / "credit.csv", "--favourable", "0").code == 0
    again = run_cli("evidence", "init", "credit-scoring", "21", "--risk-class", "high", "--owner", "x",
                    "--bundle", str(bundle))
    assert again.code == 2
    assert again.stderr == (f"gatekeeper: {bundle / 'evidence.yaml'} already exists; the producers fill it "
                            "(--force starts it over)\n")
    assert "fairness" in yaml.safe_load((bundle / "evidence.yaml").read_text())


@pytest.mark.parametrize("args, line", [
    (["m", "1", "--risk-class", "severe", "--owner", "o", "--bundle", "b"],
     "--risk-class 'severe' is not one of minimal, limited, high"),
    (["m", "1", "--risk-class", "high", "--owner", "o"],
     "give --bundle DIR (a local bundle for the producers) or --mlflow URL (or both)"),
    (["../m", "1", "--risk-class", "high", "--owner", "o", "--bundle", "b"], "../m version 1: "),
])
def test_init_bad_input_exits_2_with_one_line(tmp_path, args, line):
    result = run_cli("evidence", "init", *args)
    assert result.code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"gatekeeper: {line}"), result.stderr
