"""README "A compliance team's walk-through", run as written (issue 21).

The log is made as `make run` makes it: the installed `gatekeeper serve`, started in a
checkout (its ./policies, ./examples/evidence, no --audit-db: .gatekeeper/audit.db), given
the README's two example reviews. The commands are read from the README, not copied here;
only its placeholders are filled in: the decision ID (from the `audit list` the step-1
comment names), `postgresql://…` (the same log's SQLite URL, the default), and
`--kubeconfig ~/.kube/prod` is dropped: `make run` has no cluster behind it, so the pack
must say where the version runs was "Not asked" rather than pretend to have asked.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from .conftest import EVIDENCE, POLICIES, ROOT, CliResult, run_cli
from .webhook.server import GateProcess

SECTION = "### A compliance team's walk-through"
MAKE_RUN_LOG = "sqlite:///.gatekeeper/audit.db"  # serve's default under cwd, what `make run` writes
DECISION_PLACEHOLDER = re.compile(r"^[0-9a-f]+…[0-9a-f]+$")
MATRIX = Path("policies/gatekeeper/matrix/requirements.yaml")


def walkthrough() -> list[tuple[str, list[list[str]]]]:
    """The section's `sh` blocks: each one's comment text and its commands (argv, inline
    comments dropped as the shell drops them, `\\` continuations joined)."""
    text = ROOT.joinpath("README.md").read_text()
    section = text.split(SECTION, 1)[1]
    section = re.split(r"^#{2,3} ", section, maxsplit=1, flags=re.M)[0]
    blocks = []
    for body in re.findall(r"^```sh\n(.*?)^```", section, flags=re.S | re.M):
        body = body.replace("\\\n", " ")
        lines = [line.strip() for line in body.splitlines() if line.strip()]
        comment = " ".join(line.lstrip("# ") for line in lines if line.startswith("#"))
        commands = [shlex.split(line, comments=True) for line in lines if not line.startswith("#")]
        blocks.append((comment, commands))
    assert blocks, f"README.md has no sh blocks under {SECTION!r}"
    return blocks


def filled_in(argv: list[str], decision_id: str) -> list[str]:
    assert argv[0] == "gatekeeper", argv
    out: list[str] = []
    args = iter(argv[1:])
    for arg in args:
        if arg == "--kubeconfig":  # no cluster behind `make run`: see the module's docstring
            next(args)
            continue
        if DECISION_PLACEHOLDER.match(arg):
            arg = decision_id
        elif arg.startswith("postgresql://"):
            arg = MAKE_RUN_LOG
        out.append(arg)
    assert not any("…" in arg for arg in out), f"a placeholder this test does not fill in: {out}"
    return out


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    script = Path(sys.executable).parent / "gatekeeper"
    if not script.is_file():
        pytest.fail(f"the installed `gatekeeper` script is missing beside {sys.executable}: run `make install`",
                    pytrace=False)
    checkout = tmp_path_factory.mktemp("checkout")
    shutil.copytree(POLICIES, checkout / "policies")
    shutil.copytree(EVIDENCE, checkout / "examples" / "evidence")

    gate = GateProcess(checkout, command=(str(script),), cwd=checkout, own_log=False).start()
    try:
        for name in ("admitted", "denied"):
            body = (ROOT / "examples" / "admission" / f"{name}.json").read_bytes()
            answer = httpx.post(f"{gate.url}/validate/production", content=body,
                                headers={"content-type": "application/json"}, timeout=30)
            assert answer.status_code == 200, answer.text
            assert answer.json()["response"]["allowed"] is (name == "admitted")
    finally:
        gate.stop()

    def gatekeeper(*args: str) -> CliResult:
        return run_cli(*args, cwd=checkout, program=(str(script),))

    blocks = walkthrough()
    # Step 1's comment says how to find the decision: the admission being asked about.
    listing = re.search(r"\((audit list [^)]*)\)", blocks[0][0])
    assert listing, blocks[0][0]
    listed = gatekeeper(*shlex.split(listing.group(1)))
    assert listed.code == 0, listed.stderr
    admitted = [r for r in json.loads(listed.stdout) if r["outcome"] == "admitted"]
    assert len(admitted) == 1, listed.stdout
    record = admitted[0]

    ran: dict[str, list[tuple[list[str], CliResult]]] = {}
    edit = None
    for comment, commands in blocks:
        # Step 2's comment: edit the matrix in your checkout, as a person would in an editor.
        change = re.search(r"e\.g\. (\w+): ([\d.]+) -> ([\d.]+)", comment)
        if change:
            key, old, new = change.groups()
            matrix = checkout / MATRIX
            text, count = re.subn(rf"\b{key}: {re.escape(old)}\b", f"{key}: {new}", matrix.read_text())
            assert count, f"{MATRIX} has no {key}: {old} to edit"
            matrix.write_text(text)
            edit = (key, float(new))
        for argv in commands:
            args = filled_in(argv, record["decision_id"])
            ran.setdefault(" ".join(args[:2]), []).append((args, gatekeeper(*args)))
    assert edit, "step 2's comment no longer says which threshold to edit"
    return {"checkout": checkout, "record": record, "edit": edit, "ran": ran}


def test_step1_the_admission_replays_identically_on_its_bundle_and_on_todays_policies(walk) -> None:
    runs = walk["ran"]["audit replay"]
    assert [args[3:] for args, _ in runs] == [[], ["--policy-dir", "./policies"]]
    for args, result in runs:
        assert result.code == 0, (args, result.stdout, result.stderr)
        assert result.stdout.startswith(f"identical: decision {walk['record']['decision_id']} "), result.stdout
        assert result.stdout.rstrip().endswith("gives the recorded decision")


def test_step2_impact_names_the_admission_the_tightened_threshold_would_deny(walk) -> None:
    key, threshold = walk["edit"]
    assert key.endswith("_min")
    measure = key.removesuffix("_min")  # demographic_parity_ratio_min bounds demographic_parity_ratio
    model = walk["record"]["models"][0]
    label = f"{model['name']}@{model['version']}"
    evidence = yaml.safe_load((EVIDENCE / model["name"] / model["version"] / "evidence.yaml").read_text())
    below = sorted(attribute for attribute, result in evidence["fairness"].items() if result[measure] < threshold)

    runs = walk["ran"]["policy impact"]
    assert len(runs) == 2
    for args, result in runs:
        assert result.code == (1 if below else 0), (args, result.stdout, result.stderr)
    text = runs[0][1].stdout
    changed = [line for line in text.splitlines() if line.strip().startswith("ADMITTED → DENIED")]
    if below:
        assert len(changed) == 1 and label in changed[0] and walk["record"]["decision_id"] in changed[0], text
        added = [line for line in text.splitlines() if f"+ [fairness.{measure}] {label}:" in line]
        assert [a for a in below if any(f"'{a}'" in line for line in added)] == below, text
    else:
        assert not changed, text
    markdown = (walk["checkout"] / "impact.md").read_text()
    assert markdown.startswith("### Policy impact on the decision log")
    assert ("ADMITTED → DENIED" in markdown and label in markdown) is bool(below), markdown


def test_step3_coverage_names_the_articles_no_requirement_serves(walk) -> None:
    [(args, result)] = walk["ran"]["policy coverage"]
    assert result.code == 0, result.stderr
    regulations = walk["checkout"] / "policies" / "gatekeeper" / "regulations"
    texts = yaml.safe_load((regulations / "texts.yaml").read_text())["texts"]
    served = yaml.safe_load((regulations / "map.yaml").read_text())
    mapped = {(text, ref) for entry in [*served["families"].values(), *served["requirements"].values()]
              for text, refs in entry.items() if text != "unmapped" for ref in refs}
    unserved = [line.split("no requirement: ", 1)[1] for line in result.stdout.splitlines() if "no requirement: " in line]
    # A reference the map gives no requirement at all is served by none of those evaluated.
    never_mapped = [f"{ref['id']} {ref['title']}" for text, doc in texts.items() for ref in doc["references"]
                    if (text, ref["id"]) not in mapped]
    assert never_mapped and set(never_mapped) <= set(unserved), result.stdout
    known = {f"{ref['id']} {ref['title']}" for text in texts.values() for ref in text["references"]}
    assert set(unserved) - {"-"} <= known, result.stdout


def test_step4_the_evidence_pack_is_an_html_file_ending_with_its_digest(walk) -> None:
    [(args, result)] = walk["ran"]["report model"]
    assert result.code == 0, result.stderr
    output = walk["checkout"] / args[args.index("--output") + 1]
    lines = output.read_bytes().splitlines(keepends=True)
    digest = hashlib.sha256(b"".join(lines[:-1])).hexdigest()  # `head -n -1 FILE | sha256sum`
    assert lines[0].lower().startswith(b"<!doctype html") and digest in lines[-1].decode(), lines[-1]
    html = b"".join(lines).decode()
    assert walk["record"]["decision_id"] in html
    assert "Not asked" in html  # no --kubeconfig: where it runs is not claimed
