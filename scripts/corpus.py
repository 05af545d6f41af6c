"""`make corpus`: the gate over published model-serving manifests (outside the repository).

Runs the real `gatekeeper check --environment production` once over the corpus folder and
prints, per apiVersion group and kind, how many objects were judged, skipped (with the
reason) or unreadable (files the CLI could not parse, by the kinds the corpus index lists).
Exit 1 when an object of a serving kind was skipped: the gate judges every one of them.

    python scripts/corpus.py [CORPUS]      (default ../shared/corpus, relative to the repo)
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The kinds that always serve or add a model (the serving-kinds table's `serves: always`
# rows); Deployment-like kinds are judged only when they run a known model server.
SERVING_KINDS = {"InferenceService", "TrainedModel", "LLMInferenceService", "Predictor", "Model", "Explainer",
                 "SeldonDeployment"}
_ERROR = re.compile(r"^gatekeeper: (?P<file>[^:]+):(?:\d+:)? (?P<reason>.*)$")


def main(argv: list[str]) -> int:
    corpus = Path(argv[1] if len(argv) > 1 else ROOT / ".." / "shared" / "corpus").resolve()
    if not corpus.is_dir():
        print(f"corpus: {corpus} is not a folder (make corpus CORPUS=<folder>)", file=sys.stderr)
        return 2
    done = subprocess.run(
        [sys.executable, "-m", "gatekeeper", "check", "--environment", "production", "--evidence",
         str(ROOT / "examples" / "evidence"), "--format", "json", str(corpus)],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        print(f"corpus: gatekeeper check gave no report (exit {done.returncode}):\n{done.stderr}", file=sys.stderr)
        return 2

    judged: collections.Counter[str] = collections.Counter()
    denied: collections.Counter[str] = collections.Counter()
    skipped: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for decision in report["results"]:
        kind = _kind(decision["object"])
        judged[kind] += 1
        denied[kind] += not decision["allowed"]
    for skip in report["skipped"]:
        skipped[_kind(skip["object"])][skip["reason"]] += 1

    index = _index(corpus)
    unreadable: collections.Counter[str] = collections.Counter()
    unreadable_lines = []
    for line in done.stderr.splitlines():
        match = _ERROR.match(line)
        if match and Path(match["file"]).is_file():
            unreadable_lines.append(f"  {Path(match['file']).relative_to(corpus)}: {match['reason']}")
            relative = str(Path(match["file"]).resolve().relative_to(corpus))
            for kind in index.get(relative, index.get(Path(relative).name, ["(not in INDEX.tsv)"])):
                unreadable[kind] += 1

    kinds = sorted(set(judged) | set(skipped) | set(unreadable))
    width = max(len(k) for k in kinds) if kinds else 10
    print(f"gatekeeper check --environment production over {corpus}")
    print(f"{'kind':<{width}}  judged  denied  skipped  unreadable  skip reasons")
    for kind in kinds:
        reasons = "; ".join(f"{n}x {r}" for r, n in skipped[kind].most_common())
        print(f"{kind:<{width}}  {judged[kind]:>6}  {denied[kind]:>6}  {sum(skipped[kind].values()):>7}  "
              f"{unreadable[kind]:>10}  {reasons}")
    print(f"total: {sum(judged.values())} judged ({sum(denied.values())} denied), "
          f"{sum(sum(c.values()) for c in skipped.values())} skipped, {len(unreadable_lines)} unreadable files")
    if unreadable_lines:
        print("unreadable files:")
        print("\n".join(unreadable_lines))
    escaped = sorted(k for k, reasons in skipped.items() if reasons and k.rsplit("/", 1)[-1] in SERVING_KINDS)
    if escaped:
        print(f"FAIL: objects of serving kinds were skipped: {', '.join(escaped)}", file=sys.stderr)
        return 1
    print("no object of a serving kind was skipped")
    return 0


def _kind(obj: dict) -> str:
    api = obj.get("apiVersion") or ""
    group = api.split("/", 1)[0] if "/" in api else "core"
    return f"{group}/{obj.get('kind') or '?'}"


def _index(corpus: Path) -> dict[str, list[str]]:
    """file name -> kinds (group/kind) as INDEX.tsv lists them, for files the CLI cannot read."""
    index: dict[str, list[str]] = {}
    path = corpus / "INDEX.tsv"
    if path.is_file():
        for row in path.read_text().splitlines()[1:]:
            cells = row.split("\t")
            if len(cells) >= 5:
                kinds = [k.split(":", 1)[-1] for k in re.split(r"[,;]", cells[4]) if k]
                index[cells[0]] = [_kind({"apiVersion": k.rsplit("/", 1)[0], "kind": k.rsplit("/", 1)[-1]})
                                   if "/" in k else k for k in kinds]
    return index


if __name__ == "__main__":
    sys.exit(main(sys.argv))
