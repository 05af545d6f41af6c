"""The evidence pack as a person reads it: titled sections of facts, tables and quoted text,
built once from the pack document so the Markdown and the HTML say the same thing.

Values are shown as written in the evidence and the policy; a threshold is shown beside
the value it bounds, as the matrix states it for the model's class (the pack carries it
from OPA, nothing here decides whether it is met).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NONE = "—"


@dataclass
class Block:
    kind: str  # facts | table | note | quote
    items: list[tuple[str, str]] = field(default_factory=list)  # facts
    columns: list[str] = field(default_factory=list)  # table
    rows: list[list[str]] = field(default_factory=list)  # table
    text: str = ""  # note, quote
    title: str = ""  # quote


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def facts(self, *items: tuple[str, Any]) -> None:
        self.blocks.append(Block("facts", items=[(label, show(value)) for label, value in items]))

    def table(self, columns: list[str], rows: list[list[Any]]) -> None:
        self.blocks.append(Block("table", columns=columns, rows=[[show(cell) for cell in row] for row in rows]))

    def note(self, text: str) -> None:
        self.blocks.append(Block("note", text=text))


def show(value: Any) -> str:
    """One value as text: lists comma-separated, maps as key: value pairs, absent as a dash."""
    if value is None or value == "" or value == [] or value == {}:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(show(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {show(value[k])}" for k in sorted(value))
    return str(value)


def sections(pack: dict[str, Any]) -> list[Section]:
    return [_classification(pack), _artifact(pack), _model_card(pack), _lineage(pack), _performance(pack),
            _data_quality(pack), _fairness(pack), _drift(pack), _explainability(pack), _pii(pack),
            _signoffs(pack), _waivers(pack), _decisions(pack), _placements(pack), _regulations(pack),
            _digests(pack)]


def header(pack: dict[str, Any]) -> list[tuple[str, str]]:
    policy, evidence = pack["policy"], pack["evidence"]
    return [(label, show(value)) for label, value in (
        ("Model", pack["model"]["ref"]),
        ("As of", pack["as_of"]),
        ("Policy revision", policy["revision"]),
        ("Requirements of environment", f"{policy['environment']} (enforcement {policy['enforcement']})"),
        ("Evidence", f"{evidence['source']} source, digest {evidence['digest'] or NONE}"),
        ("Evidence problem", evidence["error"]),
    ) if value]


def _classification(pack: dict[str, Any]) -> Section:
    section, c = Section("Classification"), pack["classification"]
    registered = c["registered"] or {}
    section.facts(("Risk class (effective)", c["risk_class"]),
                  ("Classification register", show(registered.get("risk_class")) if registered else "does not know the model"),
                  ("Decided by", registered.get("decided_by")), ("Decided at", registered.get("decided_at")),
                  ("Reference", registered.get("reference")), ("The evidence says", c["evidence_says"]),
                  ("Owner", pack["owner"]))
    return section


def _artifact(pack: dict[str, Any]) -> Section:
    section, a = Section("Artifact"), pack["artifact"]
    artifact = a["artifact"] or {}
    section.facts(("URI", artifact.get("uri")), ("Digest", artifact.get("digest")),
                  ("Required", a["requirement"]))
    if a["artifacts"]:
        section.table(["uri", "digest"], [[x.get("uri"), x.get("digest")] for x in a["artifacts"]])
    return section


def _model_card(pack: dict[str, Any]) -> Section:
    section, m = Section("Model card"), pack["model_card"]
    card = m["card"] or {}
    texts = card.get("sections") or {}
    required = (m["requirement"] or {}).get("sections") or []
    section.facts(("File", card.get("path")), ("Required sections", required))
    if card.get("error"):
        section.facts(("Problem", card["error"]))
    section.table(["section", "required", "present"],
                  [[name, name in required, bool(texts.get(name))] for name in sorted(set(required) | set(texts))])
    # The required sections' text; the others (a title heading holding the whole card) are listed above.
    for name in sorted(n for n in texts if n in required):
        section.blocks.append(Block("quote", title=name, text=str(texts[name])))
    return section


def _lineage(pack: dict[str, Any]) -> Section:
    section, lineage = Section("Lineage"), pack["lineage"]["lineage"] or {}
    section.facts(("Run", lineage.get("run_id")), ("Code commit", lineage.get("code_commit")),
                  ("Required", pack["lineage"]["requirement"]))
    datasets = sorted(lineage.get("datasets") or [], key=lambda d: (str(d.get("context")), str(d.get("name"))))
    if datasets:
        section.table(["dataset", "context", "digest"], [[d.get("name"), d.get("context"), d.get("digest")] for d in datasets])
    return section


def _performance(pack: dict[str, Any]) -> Section:
    section = Section("Performance")
    metrics = ((pack["performance"]["performance"] or {}).get("metrics")) or {}
    bounds = pack["performance"]["requirement"]
    section.table(["metric", "value", "required (matrix)"],
                  [[name, metrics.get(name), (bounds or {}).get(name)] for name in sorted(set(metrics) | set(bounds or {}))])
    if bounds is None:
        section.note("The model's class requires no performance metrics.")
    return section


def _measured(title: str, part: dict[str, Any], requirement_label: str = "Required (matrix)") -> Section:
    section = Section(title)
    result = part["result"]
    if result is None:
        section.note("No result in the evidence.")
    else:
        section.facts(*((key, result[key]) for key in sorted(result)))
    section.facts((requirement_label, part["requirement"] if part["requirement"] is not None else "not required for this class"))
    return section


def _data_quality(pack: dict[str, Any]) -> Section:
    return _measured("Data quality", pack["data_quality"])


def _fairness(pack: dict[str, Any]) -> Section:
    section, f = Section("Fairness"), pack["fairness"]
    req = f["requirement"] or {}
    section.facts(("Thresholds (matrix, per attribute)", {k: v for k, v in req.items() if k != "required_attributes"}
                   if f["requirement"] is not None else "not required for this class"),
                  ("Required attributes", f["required_attributes"]), ("Missing attributes", f["missing_attributes"]))
    bound = [("demographic_parity_ratio", "demographic_parity_ratio_min", "≥"),
             ("demographic_parity_difference", "demographic_parity_difference_max", "≤"),
             ("equalized_odds_difference", "equalized_odds_difference_max", "≤"),
             ("min_group_size", "min_group_size", "≥")]
    columns = ["attribute", *[f"{metric} ({sign} {show(req.get(limit))})" for metric, limit, sign in bound],
               "favourable outcome", "evaluated at"]
    rows = [[name, *[values.get(metric) for metric, _, _ in bound], values.get("favourable_outcome"),
             values.get("evaluated_at")] for name, values in f["attributes"].items()]
    section.table(columns, rows)
    rates = [[name, values.get("selection_rates")] for name, values in f["attributes"].items() if values.get("selection_rates")]
    if rates:
        section.table(["attribute", "selection rates"], rates)
    return section


def _drift(pack: dict[str, Any]) -> Section:
    d = pack["drift"]
    section = _measured("Drift", {"result": d["result"], "requirement": d["requirement"]})
    section.facts(("Monitoring", d["monitoring"]), ("Monitoring required", d["monitoring_requirement"]))
    return section


def _explainability(pack: dict[str, Any]) -> Section:
    return _measured("Explainability", pack["explainability"])


def _pii(pack: dict[str, Any]) -> Section:
    section = _measured("PII scan", pack["pii_scan"])
    section.facts(("Evidence age limits, days (matrix)", pack["max_evidence_age_days"]))
    return section


def _signoffs(pack: dict[str, Any]) -> Section:
    section, s = Section("Sign-offs"), pack["signoffs"]
    section.facts(("Required (matrix)", s["requirement"] if s["requirement"] is not None else "not required for this class"))
    section.table(["file", "role", "signer", "signed at", "until", "verified against key", "key holder (signers)",
                   "counts"],
                  [[x["source"], x["role"], x["signer"], x["signed_at"], x["expires_at"],
                    _key(x),
                    x["key_owners"], "yes" if not x["rejections"] else "no: " + "; ".join(x["rejections"])]
                   for x in s["statements"]])
    return section


def _key(statement: dict[str, Any]) -> str:
    """The key ID a statement's signature verified against, or why it did not verify."""
    if statement["signature_valid"]:
        return str(statement["keyid"])
    return f"not verified: {statement['error'] or 'no valid signature'}"


def _waivers(pack: dict[str, Any]) -> Section:
    section = Section("Waivers")
    if not pack["waivers"]:
        section.note("No waivers in the evidence.")
        return section
    section.table(["file", "requirement", "approver", "versions", "until", "reason", "verified against key", "state",
                   "applies"],
                  [[x["source"], x["requirement"], x["approver"], x["versions"], x["expires_at"], x["reason"],
                    _key(x),
                    x["state"], "yes" if not x["rejections"] and x["state"] == "active" else
                    "no: " + ("; ".join(x["rejections"]) or x["state"])]
                   for x in pack["waivers"]])
    return section


def _decisions(pack: dict[str, Any]) -> Section:
    section, log = Section("Decisions about this version"), pack["decisions"]
    if log is None:
        section.note("Not asked: no decision log given (--audit-db).")
        return section
    records = log["records"]
    counts: dict[tuple[str, str], int] = {}
    for r in records:
        key = (r["summary"]["source"], r["summary"]["outcome"])
        counts[key] = counts.get(key, 0) + 1
    section.facts(("Log", log["origin"] or "no signed checkpoint"), ("Newest signed checkpoint, size", log["size"]),
                  ("Records about this version", len(records)))
    if counts:
        section.table(["source", "outcome", "records"], [[s, o, n] for (s, o), n in sorted(counts.items())])
    section.table(["record", "time", "decision", "source", "outcome", "environment", "object", "violations",
                   "waived", "inclusion proof", "input stored (audit replay)"],
                  [[r["summary"]["seq"], r["summary"]["time"], r["summary"]["decision_id"], r["summary"]["source"],
                    r["summary"]["outcome"] + (" (dry run)" if r["summary"]["dry_run"] else ""),
                    r["summary"]["environment"], r["summary"]["object"], r["summary"]["violations"],
                    r["summary"]["waived"], _proof_text(r["proof"]), bool(r["summary"]["input_digest"])]
                   for r in records])
    if log["checkpoint"]:
        section.blocks.append(Block("quote", title="The signed checkpoint the proofs are against", text=log["checkpoint"]))
    return section


def _proof_text(proof: dict[str, Any]) -> str:
    if proof["status"] == "verified":
        return f"verified: leaf {proof['leaf_index']} of {proof['tree_size']}"
    return proof["status"]


def _placements(pack: dict[str, Any]) -> Section:
    section, rows = Section("Where it runs now"), pack["placements"]
    if rows is None:
        section.note("Not asked: no cluster given (--kubeconfig).")
    elif not rows:
        section.note("No workload in the cluster serves this version (as the background auditor's reports say).")
    else:
        section.table(["namespace", "kind", "name", "environment", "compliant", "violations", "earliest expiry"],
                      [[r.get("namespace"), r.get("kind"), r.get("name"), r.get("environment"), r.get("compliant"),
                        r.get("violations"), r.get("earliest_expiry")] for r in rows])
    return section


def _regulations(pack: dict[str, Any]) -> Section:
    section, regs = Section("Regulation coverage"), pack["regulations"]
    if regs is None:
        section.note("No regulation map in this policy.")
        return section
    section.note("What each requirement that judges this model serves (the policy's regulation map).")
    section.table(["requirement", "serves", "unmapped because"],
                  [[requirement, [r["label"] for r in entry["references"]], entry["unmapped"]]
                   for requirement, entry in sorted(regs["requirements"].items())])
    section.facts(*((f"{text['name']} ({text['version']}): served by none of them",
                     [f"{r['id']} ({r['title']})" for r in text["unserved"]] or "none: every reference is served")
                    for _, text in sorted(regs["texts"].items())))
    return section


def _digests(pack: dict[str, Any]) -> Section:
    section = Section("Evidence section digests")
    section.note("What a sign-off binds: sha256 over each section's canonical JSON and the files it names.")
    section.table(["section", "digest"], [[name, digest] for name, digest in sorted(pack["sections"].items())])
    return section
