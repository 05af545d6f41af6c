"""`gatekeeper check` as a CI tool: inputs, report formats on the right file and line,
several environments at once, remote mode against a real `gatekeeper serve`, progress.

Every test runs the real `gatekeeper` process against a real OPA (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from gatekeeper.opa.server import free_port

from .conftest import MANIFESTS, ROOT, run_cli
from .webhook.server import GateProcess

FAIRNESS = MANIFESTS / "noncompliant" / "fairness-credit-scoring-4.yaml"
MONITORING = MANIFESTS / "noncompliant" / "monitoring-credit-scoring-10.yaml"
NO_MODEL = MANIFESTS / "noncompliant" / "evidence-no-model-reference.yaml"
COMPLIANT = MANIFESTS / "compliant"
TOKEN = "ci-token-7f3a"
ANSI = "\x1b["


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def object_line(text: str, marker: str) -> int:
    """1-based line of the first line containing MARKER."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if marker in line)


CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "lending"},
             "data": {"a": "b"}}


# --- inputs ---------------------------------------------------------------------------------


def test_folders_multi_document_yaml_json_and_lists(cli, tmp_path):
    nested = tmp_path / "chart" / "templates"
    nested.mkdir(parents=True)
    [fairness] = load(FAIRNESS)
    multi = "# Source: chart/templates/multi.yaml\n" + yaml.safe_dump(CONFIGMAP) + "---\n" + yaml.safe_dump(fairness)
    (nested / "multi.yaml").write_text(multi)
    deployment, _feature_api = load(COMPLIANT / "churn-predictor-deployment.yaml")
    [isvc] = load(COMPLIANT / "credit-scoring-inferenceservice.yaml")
    (tmp_path / "list.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [isvc, deployment]}))
    [seldon] = load(COMPLIANT / "churn-predictor-seldon-model.yaml")
    yaml_list = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [CONFIGMAP, seldon]})
    (tmp_path / "list.yml").write_text(yaml_list)
    (tmp_path / "README.md").write_text("# not a manifest: folders only yield .yaml, .yml and .json\n")

    result = cli("check", "--format", "json", str(tmp_path))
    assert result.code == 1, result.stderr
    assert result.stderr == ""
    report = result.json()
    by_name = {d["object"]["name"]: d for d in report["results"]}
    assert sorted(by_name) == ["churn-batch-scorer", "churn-predictor", "credit-scoring", "credit-scoring-v4"]
    assert not by_name["credit-scoring-v4"]["allowed"]
    assert all(by_name[n]["allowed"] for n in ("churn-batch-scorer", "churn-predictor", "credit-scoring"))
    # Every object points at its own file and line: the document, or its item in a List.
    assert by_name["credit-scoring-v4"]["source"] == {
        "file": str(nested / "multi.yaml"), "line": object_line(multi, "apiVersion: serving.kserve.io")}
    assert by_name["credit-scoring"]["source"] == {"file": str(tmp_path / "list.json"), "line": 1}
    item_lines = [i for i, line in enumerate(yaml_list.splitlines(), 1) if line.startswith("- ")]
    assert by_name["churn-predictor"]["source"] == {"file": str(tmp_path / "list.yml"), "line": item_lines[1]}
    skipped = sorted((s["object"]["kind"], s["source"]["file"], s["source"]["line"]) for s in report["skipped"])
    assert skipped == [("ConfigMap", str(nested / "multi.yaml"), 2), ("ConfigMap", str(tmp_path / "list.yml"), item_lines[0])]


def test_skipped_objects_are_listed_with_verbose_only(cli):
    quiet = cli("check", str(COMPLIANT))
    assert quiet.code == 0
    assert "SKIPPED" not in quiet.stdout and "1 skipped (not model-serving)" in quiet.stdout
    loud = cli("check", "--verbose", str(COMPLIANT))
    assert loud.code == 0
    assert "SKIPPED Deployment/retention/feature-api: no model-gatekeeper.io/model annotation" in loud.stdout
    assert "churn-predictor-deployment.yaml:" in loud.stdout


def test_helm_template_output_on_stdin(cli):
    [isvc] = load(COMPLIANT / "credit-scoring-inferenceservice.yaml")
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "credit-scoring"}}
    rendered = ("---\n# Source: credit/templates/service.yaml\n" + yaml.safe_dump(service)
                + "---\n# Source: credit/templates/isvc.yaml\n" + yaml.safe_dump(isvc) + "---\n# Source: empty.yaml\n")
    result = cli("check", "--format", "json", "-", stdin=rendered)
    assert result.code == 0, result.stderr
    report = result.json()
    [decision] = report["results"]
    assert decision["source"] == {"file": "<stdin>", "line": object_line(rendered, "apiVersion: serving")}
    assert report["skipped"][0]["object"]["kind"] == "Service"


# --- bad input: exit 2, one line naming the file; the other files are still reported --------


@pytest.mark.parametrize("name, content, expected", [
    ("image.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not UTF-8 text"),
    ("notes.json", b"these are notes, not JSON\n", "not valid JSON"),
    ("tabs.yaml", b"kind: Model\n\tmetadata: x\n", "not valid YAML"),
    ("scalar.yaml", b"just a sentence\n", "not a Kubernetes object"),
])
def test_a_file_that_is_not_a_manifest(cli, tmp_path, name, content, expected):
    (tmp_path / name).write_bytes(content)
    shutil.copy(FAIRNESS, tmp_path / "good.yaml")
    result = cli("check", "--format", "json", str(tmp_path))
    assert result.code == 2
    line = one_line(result.stderr)
    assert str(tmp_path / name) in line and expected in line
    assert [d["object"]["name"] for d in result.json()["results"]] == ["credit-scoring-v4"]


def test_a_file_over_the_size_limit(cli, tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("kind: ConfigMap\ndata:\n" + "".join(f"  k{i}: {'x' * 100}\n" for i in range(90_000)))
    assert big.stat().st_size > 8 * 1024 * 1024
    shutil.copy(FAIRNESS, tmp_path / "good.yaml")
    result = cli("check", str(tmp_path))
    assert result.code == 2
    assert f"{big}: larger than 8 MiB" in one_line(result.stderr)
    assert "DENIED InferenceService/lending/credit-scoring-v4" in result.stdout


def test_a_folder_without_manifests(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here\n")
    result = cli("check", str(tmp_path))
    assert result.code == 2 and "folder holds no .yaml, .yml or .json files" in one_line(result.stderr)


# --- formats ----------------------------------------------------------------------------------


def test_table_is_coloured_on_a_terminal_and_plain_otherwise(cli, opa_url):
    piped = cli("check", str(FAIRNESS), env={"NO_COLOR": ""})
    assert piped.code == 1 and ANSI not in piped.stdout
    code, stdout, _ = run_on_terminal(["check", str(FAIRNESS), "--opa-url", opa_url], stdout=True)
    assert code == 1
    assert ANSI in stdout and "DENIED" in stdout


def test_junit_one_case_per_object_and_model(cli, tmp_path):
    report_file = tmp_path / "junit.xml"
    result = cli("check", "--format", "junit", "--output", str(report_file), str(FAIRNESS), str(NO_MODEL), str(COMPLIANT))
    assert result.code == 1
    assert "DENIED InferenceService/lending/credit-scoring-v4" in result.stdout  # the terminal shows the table
    root = ET.fromstring(report_file.read_text())
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "gatekeeper check (production)"
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert sorted(cases) == [
        "Deployment/retention/churn-batch-scorer churn-predictor@7",
        "InferenceService/lending/anonymous-model (no model)",
        "InferenceService/lending/credit-scoring credit-scoring@3",
        "InferenceService/lending/credit-scoring-v4 credit-scoring@4",
        "Model/retention/churn-predictor churn-predictor@7",
    ]
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "2", "0")
    failure = cases["InferenceService/lending/credit-scoring-v4 credit-scoring@4"].find("failure")
    assert failure.get("message") == "denied in production: fairness.demographic_parity_ratio"
    assert "[fairness.demographic_parity_ratio] credit-scoring@4: demographic parity ratio for 'sex' is 0.62" in failure.text
    assert "fix: " in failure.text
    assert cases["InferenceService/lending/credit-scoring-v4 credit-scoring@4"].get("file") == str(FAIRNESS)
    assert cases["InferenceService/lending/credit-scoring credit-scoring@3"].find("failure") is None
    # --verbose adds objects that serve no model as skipped cases.
    verbose = cli("check", "--format", "junit", "--verbose", str(COMPLIANT))
    assert verbose.code == 0
    skipped = [c for c in ET.fromstring(verbose.stdout).iter("testcase") if c.find("skipped") is not None]
    assert [c.get("name") for c in skipped] == ["Deployment/retention/feature-api"]


def test_sarif_points_code_scanning_at_the_manifest(cli, tmp_path):
    folder = tmp_path / "deploy"
    folder.mkdir()
    [fairness] = load(FAIRNESS)
    multi = yaml.safe_dump(CONFIGMAP) + "---\n" + yaml.safe_dump(fairness)
    (folder / "credit.yaml").write_text(multi)
    shutil.copy(NO_MODEL, folder / "anonymous.yaml")
    result = cli("check", "--format", "sarif", "--output", "scan.sarif", "deploy", cwd=tmp_path)
    assert result.code == 1, result.stderr
    assert "DENIED InferenceService/lending/credit-scoring-v4" in result.stdout
    sarif = json.loads((tmp_path / "scan.sarif").read_text())

    # The key structure of SARIF 2.1.0 that code-scanning UIs read.
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    [run] = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "model-gatekeeper" and driver["version"]
    rules = driver["rules"]
    assert sorted(r["id"] for r in rules) == ["evidence.model_reference", "fairness.demographic_parity_ratio"]
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"] and rule["help"]["text"] == rule["fullDescription"]["text"]
    fairness_rule = next(r for r in rules if r["id"] == "fairness.demographic_parity_ratio")
    assert "waiver" in fairness_rule["help"]["text"]  # the remediation from the matrix
    results = {r["ruleId"]: r for r in run["results"]}
    assert sorted(results) == ["evidence.model_reference", "fairness.demographic_parity_ratio"]
    for result_ in run["results"]:
        assert rules[result_["ruleIndex"]]["id"] == result_["ruleId"]
        assert result_["level"] == "error"
        assert result_["message"]["text"]
        [location] = result_["locations"]
        assert set(location["physicalLocation"]) == {"artifactLocation", "region"}
    where = results["fairness.demographic_parity_ratio"]["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"] == "deploy/credit.yaml"  # relative to the repository root
    assert where["region"]["startLine"] == object_line(multi, "apiVersion: serving.kserve.io") == 9
    assert "credit-scoring@4: demographic parity ratio for 'sex' is 0.62" in results["fairness.demographic_parity_ratio"]["message"]["text"]
    anonymous = results["evidence.model_reference"]["locations"][0]["physicalLocation"]
    assert anonymous["artifactLocation"]["uri"] == "deploy/anonymous.yaml" and anonymous["region"]["startLine"] == 1

    staging = cli("check", "-e", "staging", "--format", "sarif", str(FAIRNESS))
    assert staging.code == 0
    assert {r["level"] for r in json.loads(staging.stdout)["runs"][0]["results"]} == {"warning"}


ANNOTATION = re.compile(r"^::(?P<level>error|warning|notice) (?P<props>[^:]*)::(?P<message>.*)$")


def test_github_annotations_on_the_right_file_and_line_escaped(cli, tmp_path):
    name = "50%,risk:high.yaml"  # a file name needing property escapes
    [fairness] = load(FAIRNESS)
    text = yaml.safe_dump(CONFIGMAP) + "---\n" + yaml.safe_dump(fairness)
    (tmp_path / name).write_text(text)
    result = cli("check", "--format", "github", name, cwd=tmp_path)
    assert result.code == 1
    annotations = [ANNOTATION.match(line) for line in result.stdout.splitlines() if line.startswith("::")]
    [annotation] = annotations
    assert annotation["level"] == "error"
    props = dict(p.split("=", 1) for p in annotation["props"].split(","))
    assert props["file"] == "50%25%2Crisk%3Ahigh.yaml"
    assert props["line"] == str(object_line(text, "apiVersion: serving.kserve.io"))
    assert props["title"] == "fairness.demographic_parity_ratio (production)"
    message = annotation["message"]
    assert message.startswith("InferenceService/lending/credit-scoring-v4 credit-scoring@4: demographic parity ratio")
    assert "%0Afix: " in message and "\n" not in message
    assert "production: 1 checked, 0 admitted, 1 denied, 1 skipped (not model-serving)" in result.stdout

    staging = cli("check", "-e", "staging", "--format", "github", str(FAIRNESS))
    assert staging.code == 0 and staging.stdout.startswith("::warning file=")


def test_output_file_gets_the_format_and_the_terminal_the_table(cli, tmp_path):
    result = cli("check", "--format", "json", "--output", str(tmp_path / "report.json"), str(FAIRNESS))
    assert result.code == 1
    assert result.stdout.startswith("DENIED InferenceService/lending/credit-scoring-v4")
    assert json.loads((tmp_path / "report.json").read_text())["results"][0]["object"]["name"] == "credit-scoring-v4"
    unwritable = cli("check", "--format", "sarif", "--output", str(tmp_path / "no" / "such" / "x.sarif"), str(FAIRNESS))
    assert unwritable.code == 2 and "cannot write" in one_line(unwritable.stderr)


# --- several environments ----------------------------------------------------------------------


def test_promotion_through_staging_to_production(cli):
    result = cli("check", "-e", "staging,production", str(FAIRNESS), str(COMPLIANT))
    assert result.code == 1  # the worst: denied in production
    assert "== staging ==" in result.stdout and "== production ==" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == (
        "promotion stops at production: admitted in staging with 1 warning, "
        "denied in production: InferenceService/lending/credit-scoring-v4 (fairness.demographic_parity_ratio)")

    as_json = cli("check", "-e", "staging,production", "--format", "json", str(FAIRNESS))
    document = as_json.json()
    assert as_json.code == 1
    assert list(document) == ["allowed", "stops_at", "environments"]
    assert document["allowed"] is False and document["stops_at"] == "production"
    assert list(document["environments"]) == ["staging", "production"]
    staging, production = document["environments"]["staging"], document["environments"]["production"]
    assert staging["allowed"] is True and staging["results"][0]["enforcement"] == "warn"
    assert production["allowed"] is False and production["results"][0]["environment"] == "production"

    passes = cli("check", "-e", "development,staging", str(FAIRNESS))
    assert passes.code == 0
    assert passes.stdout.strip().splitlines()[-1] == (
        "promotion passes: admitted in development with 1 violation recorded (dry run), "
        "admitted in staging with 1 warning")


def test_an_unknown_environment_among_several(cli):
    result = cli("check", "-e", "staging,prod", str(FAIRNESS))
    assert result.code == 2
    assert "unknown environment 'prod'" in one_line(result.stderr)
    assert result.stdout == ""


# --- remote mode -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def remote_gate(tmp_path_factory, opa_url) -> Iterator[GateProcess]:
    """A real `gatekeeper serve` that wants a bearer token on /v1/evaluate."""
    process = GateProcess(tmp_path_factory.mktemp("remote"), "--opa-url", opa_url, "--evaluate-token", TOKEN).start()
    yield process
    process.stop()


def without_ids(document: dict) -> dict:
    for report in document.get("environments", {"": document}).values():
        for decision in report["results"]:
            decision.pop("decision_id")
    return document


def test_remote_gate_gives_the_same_report(cli, remote_gate):
    args = ("check", "-e", "staging,production", "--format", "json", str(FAIRNESS), str(COMPLIANT))
    local = cli(*args)
    remote = run_cli(*args, "--remote", remote_gate.url, "--token", TOKEN)
    assert (remote.code, remote.stderr) == (local.code, local.stderr) == (1, "")
    assert without_ids(remote.json()) == without_ids(local.json())  # decisions and file:line alike

    table = run_cli("check", "--remote", remote_gate.url, str(FAIRNESS), env={"GATEKEEPER_EVALUATE_TOKEN": TOKEN})
    assert table.code == 1
    assert f"DENIED InferenceService/lending/credit-scoring-v4 in production  ({FAIRNESS}:1)" in table.stdout


def test_remote_gate_refuses_without_the_token(remote_gate):
    result = run_cli("check", "--remote", remote_gate.url, str(FAIRNESS))
    assert result.code == 2
    line = one_line(result.stderr)
    assert "HTTP 401" in line and "--token" in line


def test_remote_bad_input_is_reported_beside_the_good(remote_gate, tmp_path):
    (tmp_path / "bad.yaml").write_text("kind: [\n")
    shutil.copy(FAIRNESS, tmp_path / "good.yaml")
    result = run_cli("check", "--remote", remote_gate.url, "--token", TOKEN, "-f", "json", str(tmp_path))
    assert result.code == 2
    assert f"{tmp_path / 'bad.yaml'}:" in one_line(result.stderr)
    assert [d["object"]["name"] for d in result.json()["results"]] == ["credit-scoring-v4"]
    unknown = run_cli("check", "--remote", remote_gate.url, "--token", TOKEN, "-e", "prod", str(FAIRNESS))
    assert unknown.code == 2 and "unknown environment 'prod'" in one_line(unknown.stderr)


def test_remote_gate_that_cannot_be_reached():
    url = f"http://127.0.0.1:{free_port()}"
    result = run_cli("check", "--remote", url, str(FAIRNESS))
    assert result.code == 2
    assert f"remote gate at {url}/v1/evaluate is unreachable" in one_line(result.stderr)


def test_remote_excludes_local_evidence_and_opa(remote_gate):
    result = run_cli("check", "--remote", remote_gate.url, "--evidence", "examples/evidence", str(FAIRNESS))
    assert result.code == 2 and "--remote" in one_line(result.stderr)


class _Garbage(BaseHTTPRequestHandler):
    answers = {
        "/html": (200, "text/html", b"<html><body>Welcome to nginx!</body></html>"),
        "/wrong-json": (200, "application/json", b'{"allowed": "perhaps", "results": 3}'),
        "/list": (200, "application/json", b"[1, 2, 3]"),
        "/crash": (500, "text/plain", b"Internal Server Error"),
    }

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("content-length", 0)))
        status, kind, body = self.answers[self.path.removesuffix("/v1/evaluate")]
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def garbage_server() -> Iterator[str]:
    """A real HTTP server that is not a gate."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path, expected", [
    ("/html", "answered HTTP 200 with something that is not JSON (text/html"),
    ("/wrong-json", "answered JSON that is not a report: allowed: Input should be a valid boolean"),
    ("/list", "answered JSON that is not a report (a list)"),
    ("/crash", "answered HTTP 500: Internal Server Error"),
])
def test_remote_gate_that_answers_garbage(garbage_server, tmp_path, path, expected):
    shutil.copy(FAIRNESS, tmp_path / "good.yaml")
    result = run_cli("check", "--remote", garbage_server + path, str(tmp_path))
    assert result.code == 2
    line = one_line(result.stderr)
    assert line.startswith(f"gatekeeper: remote gate at {garbage_server}{path}/v1/evaluate ") and expected in line
    assert result.stdout == ""


def test_serve_takes_the_evaluate_token_from_the_environment(tmp_path, opa_url):
    gate = GateProcess(tmp_path, "--opa-url", opa_url, env={"GATEKEEPER_EVALUATE_TOKEN": "from-env"}).start()
    try:
        assert run_cli("check", "--remote", gate.url, "--token", "wrong", str(FAIRNESS)).code == 2
        assert run_cli("check", "--remote", gate.url, "--token", "from-env", str(FAIRNESS)).code == 1
    finally:
        gate.stop()


# --- progress --------------------------------------------------------------------------------


def run_on_terminal(args: list[str], *, stdout: bool = False, cwd: Path = ROOT) -> tuple[int, str, str]:
    """Run the CLI with stderr (and stdout when asked) on a pseudo-terminal."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gatekeeper", *args], cwd=cwd, env=env,
        stdout=slave if stdout else subprocess.PIPE, stderr=slave if not stdout else subprocess.PIPE,
    )
    os.close(slave)
    captured = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            captured += chunk
        elif process.poll() is not None:
            break
    os.close(master)
    piped = (process.stderr if stdout else process.stdout).read().decode()
    process.wait(timeout=60)
    terminal = captured.decode(errors="replace")
    return (process.returncode, terminal, piped) if stdout else (process.returncode, piped, terminal)


@pytest.fixture
def many_manifests(tmp_path) -> Path:
    folder = tmp_path / "many"
    folder.mkdir()
    for i, source in enumerate(sorted(COMPLIANT.iterdir()) * 8):
        (folder / f"{i:02d}-{source.name}").write_text(source.read_text())
    return folder


def test_progress_bar_on_a_terminal_only(cli, opa_url, many_manifests):
    code, stdout, stderr = run_on_terminal(["check", str(many_manifests), "--opa-url", opa_url])
    assert code == 0, stderr
    assert "reading manifests" in stderr and "evaluating in production" in stderr
    assert "/24" in stderr  # the files to read (the bar may finish before it redraws 24/24)
    assert stdout.strip().splitlines()[-1] == "24 checked, 24 admitted, 0 denied, 8 skipped (not model-serving)"

    piped = cli("check", str(many_manifests))
    assert piped.code == 0 and piped.stderr == ""
    assert piped.stdout == stdout


# --- docs/ci.md: the CI examples parse and use only options that exist ---------------------


def _strings(node) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def test_ci_examples_in_the_docs():
    import textwrap

    text = (ROOT / "docs" / "ci.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 4
    commands: dict[str, set[str]] = {}
    for block in blocks:
        parsed = yaml.safe_load(textwrap.dedent(block))  # whole files and step fragments alike
        assert parsed, block
        for value in _strings(parsed):
            for line in value.replace("\\\n", " ").splitlines():
                match = re.search(r"gatekeeper (check|policy impact|policy test)\b(.*)", line)
                if match:
                    command = re.split(r"\|\||&&|;|\|", match[2])[0]
                    commands.setdefault(match[1], set()).update(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[ef])\b", command))
    assert {"check", "policy impact", "policy test"} <= set(commands)
    assert {"--format", "--output", "--remote", "--environment"} <= commands["check"]
    for command, flags in commands.items():
        help_text = run_cli(*command.split(), "--help", env={"COLUMNS": "300"}).stdout
        for flag in flags:
            assert flag in help_text, f"docs/ci.md uses `gatekeeper {command} {flag}`, which does not exist"


def test_objects_serving_one_model_are_judged_each_on_its_own(cli):
    # credit-scoring@3 is served twice in the examples: once from its registered artifact,
    # once from another bucket. Only the second is denied, in one run as in two.
    result = cli("check", "--format", "json", str(MANIFESTS))
    decisions = {d["object"]["name"]: d for d in result.json()["results"]}
    assert decisions["credit-scoring"]["allowed"] is True
    assert [v["requirement"] for v in decisions["credit-scoring-wrong-artifact"]["violations"]] == [
        "artifact.storage_uri_mismatch"]
