"""`gatekeeper policy`: what a compliance team runs while editing Rego and the matrix.

- `policy test`: `opa check --strict`, the matrix's retired settings (each refused in one
  line saying what to set instead), `opa test --coverage` (with a minimum coverage) and
  `regal lint`, with the pinned binaries from .tools/bin; exit 0 all pass, 1 something
  failed, 2 a tool could not run.
- `policy new FAMILY [--risk-class high ...]`: scaffold a requirement family (module, its
  tests, its matrix entry and remediation text; `policy_new`), ready to be filled in.
- `policy coverage [--risk-class C] [--environment E]`: per risk class and environment,
  which references of the regulation map the evaluated requirements serve and which none
  does (`policy_coverage`); exit 0, or 2 when it cannot answer.
- `policy impact --base REV [MANIFEST...]`: evaluate the same objects under the policies
  at REV and under the working tree (or --head REV), each in its own OPA, with one shared
  evidence source, and list every decision that changes. Exit 0 no change, 1 changes,
  2 could not evaluate (bad revision, bad input, a component failing).
- `policy impact --from-log [--since 30d]`: replay the decision log's recorded admissions
  of the period and each running workload's newest background decision against the working
  tree (`log_impact`); the same exit codes.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import tarfile
import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from gatekeeper.cli.common import AuditDb, Evidence, Mlflow, PolicyDir, environments as parse_environments, fail
from gatekeeper.cli.common import note, note_default_folders, policy_folder, settings as build_settings, shown

app = typer.Typer(help="Work on the policy library: test it, see which decisions a change flips.",
                  no_args_is_help=True)

IMPACT_FORMATS = ("table", "json")


def _tool(name: str) -> str:
    from gatekeeper.paths import find_tool

    path = find_tool(name)
    if not path:
        raise fail(f"{name} binary not found: run `make install` (scripts/install-tool.sh {name})")
    return path


def _policy_dir(policy_dir: Path | None) -> Path:
    folder = policy_folder(policy_dir).resolve()
    if not folder.is_dir():
        raise fail(f"policy folder {folder} does not exist")
    return folder


def _run(command: list[str], *, cwd: Path | None = None, timeout: float = 600,
         stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=timeout, input=stdin)
    except OSError as exc:
        raise fail(f"cannot run {command[0]}: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise fail(f"{Path(command[0]).name} {command[1]} did not finish within {timeout:g}s") from None


def _indent(text: str, limit: int = 60) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    shown = lines[:limit] + ([f"... {len(lines) - limit} more lines"] if len(lines) > limit else [])
    return "\n".join(f"    {line}" for line in shown)


# --- policy test ---------------------------------------------------------------------------


@app.command("test")
def test(
    policy_dir: PolicyDir = None,
    min_coverage: Annotated[float, typer.Option(help="Fail below this policy test coverage, in percent.")] = 90.0,
) -> None:
    """Compile (strict), refuse retired matrix settings, run the Rego tests with coverage, and lint with Regal."""
    opa, regal = _tool("opa"), _tool("regal")
    folder = _policy_dir(policy_dir)
    failed = False

    check = _run([opa, "check", "--strict", str(folder)])
    if check.returncode == 0:
        typer.echo("PASS  opa check --strict")
    else:
        failed = True
        typer.echo("FAIL  opa check --strict")
        typer.echo(_indent(check.stderr or check.stdout))

    if check.returncode == 0:
        failed |= _lines_step("matrix", _retired_settings(opa, folder), "no retired settings")
        failed |= _lines_step("policy", _problems(opa, folder),
                              "every matrix family has a module, every requirement ID a remediation text and "
                              "a place in the regulation map")

    tests = _run([opa, "test", str(folder), "--coverage", "--format=json"])
    coverage: float | None = None
    if tests.returncode == 0:
        try:
            report = json.loads(tests.stdout)
            coverage = float(report.get("coverage", 0.0))
        except (json.JSONDecodeError, TypeError, ValueError, AttributeError):
            raise fail("opa test --coverage printed no coverage report") from None
        typer.echo("PASS  opa test: every test passed")
        low = sorted((path, float(f.get("coverage", 0.0))) for path, f in (report.get("files") or {}).items()
                     if float(f.get("coverage", 0.0)) < 100)
        verdict = "PASS" if coverage >= min_coverage else "FAIL"
        failed |= coverage < min_coverage
        typer.echo(f"{verdict}  coverage {coverage:.1f}% (required {min_coverage:g}%)")
        for path, value in low:
            typer.echo(f"    {path}: {value:.1f}%")
    else:
        failed = True
        _report_failed_tests(opa, folder, tests)

    lint = _run([regal, "lint", "--format", "json", "--no-color", str(folder)])
    try:
        violations = json.loads(lint.stdout).get("violations") or []
    except (json.JSONDecodeError, AttributeError):
        violations = None
    if lint.returncode == 0 and violations == []:
        typer.echo("PASS  regal lint: no violations")
    elif violations:
        failed = True
        typer.echo(f"FAIL  regal lint: {len(violations)} violation{'s' if len(violations) != 1 else ''}")
        for v in violations:
            where = v.get("location") or {}
            typer.echo(f"    {where.get('file')}:{where.get('row')}:{where.get('col')}: "
                       f"{v.get('category')}/{v.get('title')}: {v.get('description')}")
    else:
        failed = True
        typer.echo(f"FAIL  regal lint (exit {lint.returncode})")
        typer.echo(_indent(lint.stderr or lint.stdout))
    raise typer.Exit(1 if failed else 0)


# Tests stating what the shipped policy decides live in files named so; every other test
# pins its own matrix, so only these can fail because the compliance team changed the matrix.
EXPECTATIONS = "_expectations_test.rego"


def _report_failed_tests(opa: str, folder: Path, coverage_run: subprocess.CompletedProcess[str]) -> None:
    """Say which kind of test failed: an expectation of the shipped policy (update it when
    the change is meant) or a test of a mechanism (a bug, whatever the matrix says)."""
    done = _run([opa, "test", str(folder), "--format=json"])
    try:
        results = json.loads(done.stdout)
        failing = [r for r in results if isinstance(r, dict) and (r.get("fail") or r.get("error"))]
    except (json.JSONDecodeError, TypeError):
        # not even the tests' results (a compile error): OPA's own words
        typer.echo("FAIL  opa test")
        typer.echo(_indent(coverage_run.stdout + "\n" + coverage_run.stderr + "\n" + done.stderr))
        return
    expected = [r for r in failing if str((r.get("location") or {}).get("file", "")).endswith(EXPECTATIONS)]
    broken = [r for r in failing if r not in expected]

    def lines(entries: list[dict[str, Any]]) -> str:
        out = []
        for r in entries:
            where = r.get("location") or {}
            error = (r.get("error") or {}).get("message") if isinstance(r.get("error"), dict) else None
            out.append(f"{_named(Path(where.get('file', '?')))}:{where.get('row', '?')}: {r.get('name')}"
                       + (f": {error}" if error else ""))
        return _indent("\n".join(out))

    if broken:
        typer.echo(f"FAIL  opa test: a mechanism is broken ({len(broken)}): these tests pin their own matrix, "
                   "so no change of the shipped matrix explains them")
        typer.echo(lines(broken))
    if expected:
        files = sorted({_named(Path((r.get("location") or {}).get("file", "?"))) for r in expected})
        typer.echo(f"FAIL  opa test: the shipped policy's expectations changed ({len(expected)}): if the change "
                   f"is intended, update them with what the policy now decides in {', '.join(files)} "
                   f"(`opa test {_named(folder)} -v --run expectations_test` shows each)")
        typer.echo(lines(expected))
    if not failing:
        typer.echo("FAIL  opa test")
        typer.echo(_indent(coverage_run.stdout + "\n" + coverage_run.stderr))


# A setting the policies no longer read would silently drop its limit (drift.max_age_days
# became max_evidence_age_days.drift): the policy library names them, one line each.
RETIRED_SETTINGS = "data.gatekeeper.requirements.staleness.retired_settings"


# What would pass silently (a matrix family no module implements, a requirement ID without
# remediation): the policy library names them, one line each; the gate refuses them too.
PROBLEMS = "data.gatekeeper.lint.problems"


def _lines_step(what: str, lines: list[str], passed: str) -> bool:
    """Print a step that refuses one line per problem; True when it failed."""
    for line in lines:
        typer.echo(f"FAIL  {what}: {line}")
    if not lines:
        typer.echo(f"PASS  {what}: {passed}")
    return bool(lines)


def _retired_settings(opa: str, folder: Path) -> list[str]:
    return _lines(opa, folder, RETIRED_SETTINGS)


def _problems(opa: str, folder: Path) -> list[str]:
    return _lines(opa, folder, PROBLEMS, {"modules": _modules(folder)})


def _modules(folder: Path) -> dict[str, str]:
    """The policy modules as OPA would load them (tests left out), named as the user knows them."""
    modules = {}
    for path in sorted(folder.rglob("*.rego")):
        if path.name.endswith("_test.rego"):
            continue
        try:
            modules[_named(path)] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read {_named(path)}: {exc}") from None
    return modules


def _named(path: Path) -> str:
    """A file as the user would type it: relative to the current directory when under it."""
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def _lines(opa: str, folder: Path, query: str, input_doc: dict[str, Any] | None = None) -> list[str]:
    """The lines a set-of-strings rule holds; none when the policy library lacks it."""
    stdin = ["--stdin-input"] if input_doc is not None else []
    done = _run([opa, "eval", "--format", "json", "--data", str(folder), *stdin, query],
                stdin=json.dumps(input_doc) if input_doc is not None else None)
    try:
        result = json.loads(done.stdout).get("result") or []
    except (json.JSONDecodeError, AttributeError):
        return [f"cannot read {query}: {(done.stderr or done.stdout).strip()[:300]}"]
    # undefined (a policy library without the rule) has no result: nothing to report
    return sorted(result[0]["expressions"][0]["value"]) if result else []


# --- policy coverage -----------------------------------------------------------------------


@app.command("coverage")
def coverage(
    risk_class: Annotated[Optional[str], typer.Option("--risk-class", help="Only this risk class.")] = None,
    environment: Annotated[Optional[str], typer.Option("--environment", "-e", help="Only this environment.")] = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="table | json")] = "table",
    policy_dir: PolicyDir = None,
) -> None:
    """Which articles (and controls, subcategories) the requirements serve, per risk class and environment."""
    from gatekeeper.cli.policy_coverage import FORMATS, CoverageError, cells_of, render_json, render_table, COVERAGE_QUERY

    if output_format not in FORMATS:
        raise fail(f"unknown format '{output_format}' (choose one of: {', '.join(FORMATS)})")
    folder = _policy_dir(policy_dir)
    opa = _tool("opa")
    problems = _problems(opa, folder)
    if problems:
        raise fail(f"the policy has {len(problems)} problem(s), first: {problems[0]} (run `gatekeeper policy test`)")
    filters = {key: value for key, value in (("risk_class", risk_class), ("environment", environment)) if value}
    done = _run([opa, "eval", "--format", "json", "--data", str(folder), "--stdin-input", COVERAGE_QUERY],
                stdin=json.dumps(filters))
    try:
        result = json.loads(done.stdout).get("result") or []
        document = result[0]["expressions"][0]["value"] if result else None
        cells = cells_of(document, risk_class, environment)
    except (json.JSONDecodeError, AttributeError, KeyError, IndexError):
        raise fail(f"OPA could not answer {COVERAGE_QUERY}: {' '.join((done.stderr or done.stdout).split())[:300]}") from None
    except CoverageError as exc:
        raise fail(str(exc)) from None
    typer.echo(render_json(cells) if output_format == "json" else render_table(cells), nl=False)


# --- policy new ----------------------------------------------------------------------------


@app.command("new")
def new(
    family: Annotated[str, typer.Argument(help="The family's name (its package and requirement ID prefix), e.g. ownership.")],
    risk_class: Annotated[Optional[list[str]], typer.Option(
        "--risk-class", help="A risk class that requires it (repeat for several; default: high).")] = None,
    policy_dir: PolicyDir = None,
) -> None:
    """Scaffold a requirement family: its module, tests, matrix entry and remediation text."""
    from gatekeeper.cli.policy_new import ScaffoldError, scaffold

    folder = _policy_dir(policy_dir)
    try:
        written = scaffold(folder, family, risk_class or ["high"])
    except ScaffoldError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write the scaffold: {exc}") from None
    for path in written:
        typer.echo(f"wrote {_named(path)}")
    module, test, matrix, *mapped = (_named(path) for path in written)
    references = f", and the references it serves in {mapped[0]}" if mapped else ""
    typer.echo(f"next: fill in `problems` in {module} and a test of it in {test}, the settings of "
               f"'{family}' and the remediation text of {family}.required in {matrix}{references}; "
               f"then `gatekeeper policy test`")


# --- policy impact -------------------------------------------------------------------------


@dataclass
class Side:
    """One policy version: where its files are and what OPA reports for it."""

    label: str
    folder: Path
    rev: str | None = None  # None: the working tree
    commit: str | None = None
    revision: str = ""


@dataclass
class Change:
    environment: str
    kind: str  # admitted_to_denied | denied_to_admitted | violations_changed | enforcement_changed
    before: Any
    after: Any
    new: list[Any] = field(default_factory=list)
    vanished: list[Any] = field(default_factory=list)


def _git(top: Path, *args: str, text: bool = True) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(top), *args], capture_output=True, text=text, timeout=120)
    except OSError as exc:
        raise fail(f"cannot run git: {exc.strerror}") from None


def _export(top: Path, relative: Path, rev: str, into: Path) -> Side:
    """The policy folder as it is at REV, extracted under INTO (`git archive`)."""
    resolved = _git(top, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if resolved.returncode != 0:
        raise fail(f"unknown git revision '{rev}' in {top}")
    commit = resolved.stdout.strip()
    pathspec = relative.as_posix() if str(relative) != "." else "."
    archive = _git(top, "archive", "--format=tar", commit, "--", pathspec, text=False)
    if archive.returncode != 0:
        reason = archive.stderr.decode(errors="replace").strip().splitlines()
        raise fail(f"{pathspec} at {rev}: {reason[-1] if reason else 'git archive failed'}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    folder = into / relative
    if not (folder / "gatekeeper").is_dir():
        raise fail(f"{pathspec} at {rev} has no gatekeeper/ policy package")
    return Side(label=f"{rev} ({commit[:12]})", folder=folder, rev=rev, commit=commit)


def _violation_keys(decision: Any) -> dict[tuple[str, str, str], Any]:
    return {(v.requirement, v.model, v.version): v for v in decision.violations}


def compare(environment: str, before: Any, after: Any) -> Change | None:
    """How one object's decision differs between base and head (None: it does not)."""
    old, new = _violation_keys(before), _violation_keys(after)
    added = [new[k] for k in new if k not in old]
    removed = [old[k] for k in old if k not in new]
    waived_changed = {(w.requirement, w.model, w.version) for w in before.waived} != {
        (w.requirement, w.model, w.version) for w in after.waived}
    if before.allowed and not after.allowed:
        kind = "admitted_to_denied"
    elif not before.allowed and after.allowed:
        kind = "denied_to_admitted"
    elif added or removed or waived_changed:
        kind = "violations_changed"
    elif before.enforcement != after.enforcement:
        kind = "enforcement_changed"
    else:
        return None
    return Change(environment, kind, before, after, added, removed)


_KIND_TEXT = {
    "admitted_to_denied": "ADMITTED → DENIED",
    "denied_to_admitted": "DENIED → ADMITTED",
    "violations_changed": "violations change",
    "enforcement_changed": "enforcement changes",
}


def _state(decision: Any) -> str:
    return "admitted" if decision.allowed else "denied"


def _render_table(base: Side, head: Side, environments: list[str], objects: int, decisions: int,
                  changes: list[Change]) -> str:
    out = [
        f"policy impact in {', '.join(environments)}: {objects} objects, {decisions} decisions",
        f"  base  {base.label}  {base.revision}",
        f"  head  {head.label}  {head.revision}",
        "",
    ]
    for change in changes:
        after = change.after
        where = f"  ({after.source.file}:{after.source.line})" if after.source else ""
        state = f" (still {_state(after)})" if change.kind in ("violations_changed", "enforcement_changed") else ""
        out.append(f"{_KIND_TEXT[change.kind]}{state}  {after.object.display()} in {change.environment}{where}")
        if change.before.enforcement != after.enforcement:
            out.append(f"  enforcement: {change.before.enforcement} → {after.enforcement}")
        for v in change.new:
            out.append(f"  + {v.requirement} {v.model}@{v.version}: {v.message}")
        for v in change.vanished:
            out.append(f"  - {v.requirement} {v.model}@{v.version}: {v.message}")
        if change.before.error != after.error:
            out.append(f"  error: {change.before.error or 'none'} → {after.error or 'none'}")
    if changes:
        counts = {kind: sum(c.kind == kind for c in changes) for kind in _KIND_TEXT}
        out.append(f"{len(changes)} of {decisions} decisions change: {counts['admitted_to_denied']} admitted → denied, "
                   f"{counts['denied_to_admitted']} denied → admitted, {counts['violations_changed']} with other violations"
                   + (f", {counts['enforcement_changed']} with other enforcement" if counts["enforcement_changed"] else ""))
    else:
        out.append(f"no decision changes: all {decisions} decisions are the same under both policy versions")
    return "\n".join(out) + "\n"


def _render_json(base: Side, head: Side, environments: list[str], objects: int, decisions: int,
                 changes: list[Change]) -> str:
    def side(s: Side) -> dict[str, Any]:
        return {"rev": s.rev, "commit": s.commit, "policy_revision": s.revision, "label": s.label}

    def state(d: Any) -> dict[str, Any]:
        return {"allowed": d.allowed, "enforcement": d.enforcement, "error": d.error,
                "violations": sorted({v.requirement for v in d.violations}),
                "waived": sorted({w.requirement for w in d.waived})}

    document = {
        "base": side(base),
        "head": side(head),
        "environments": environments,
        "objects": objects,
        "decisions": decisions,
        "changed": len(changes),
        "changes": [{
            "environment": c.environment,
            "change": c.kind,
            "object": c.after.object.model_dump(by_alias=True),
            "source": c.after.source.model_dump() if c.after.source else None,
            "models": [m.model_dump() for m in c.after.models],
            "before": state(c.before),
            "after": state(c.after),
            "new_violations": [v.model_dump(mode="json") for v in c.new],
            "vanished_violations": [v.model_dump(mode="json") for v in c.vanished],
        } for c in changes],
    }
    return json.dumps(document, indent=2) + "\n"


@app.command()
def impact(
    paths: Annotated[Optional[list[str]], typer.Argument(help="Manifest files or folders; '-' reads stdin (default: examples/manifests).")] = None,
    base: Annotated[Optional[str], typer.Option("--base", help="Git revision whose policies to compare against (e.g. origin/main).")] = None,
    head: Annotated[Optional[str], typer.Option("--head", help="Git revision of the new policies (default: the working tree).")] = None,
    from_log: Annotated[bool, typer.Option("--from-log", help="Replay the decision log instead of manifests: the period's admissions and each running workload's newest background decision.")] = False,
    since: Annotated[Optional[str], typer.Option("--since", help="With --from-log: the period, a duration (30d, 12h, 2w) or an ISO-8601 time (default: 30d).")] = None,
    audit_db: AuditDb = None,
    environment: Annotated[Optional[str], typer.Option(
        "--environment", "-e", help="Environment(s), comma-separated (default: production; with --from-log, every one).")] = None,
    evidence: Evidence = None,
    mlflow: Mlflow = None,
    policy_dir: PolicyDir = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="table | json (| markdown with --from-log)")] = "table",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the --format report here; the terminal shows the table.")] = None,
) -> None:
    """Which decisions would a policy change flip? Exit 0 none, 1 some, 2 could not evaluate."""
    from gatekeeper.cli.manifests import load_manifests
    from gatekeeper.paths import PROJECT_ROOT

    if from_log:
        _impact_from_log(paths, base, head, evidence, mlflow, since, audit_db, environment, policy_dir,
                         output_format, output)
    if base is None:
        raise fail("policy impact needs --base REV (manifests under two policy versions) or --from-log "
                   "(the decision log under the working tree's policies)")
    if since is not None or audit_db is not None:
        raise fail(f"{'--since' if since is not None else '--audit-db'} goes with --from-log")
    if output_format not in IMPACT_FORMATS:
        raise fail(f"unknown format '{output_format}' (choose one of: {', '.join(IMPACT_FORMATS)})")
    environments = parse_environments(environment or "production")
    folder = _policy_dir(policy_dir)
    top_answer = _git(folder, "rev-parse", "--show-toplevel")
    if top_answer.returncode != 0:
        raise fail(f"policy folder {folder} is not in a git repository")
    top = Path(top_answer.stdout.strip()).resolve()
    relative = folder.relative_to(top)
    if not paths:
        default = Path("examples/manifests")
        default = default if default.is_dir() else PROJECT_ROOT / "examples" / "manifests"
        note(f"manifests from {shown(default)}")
        paths = [str(default)]
    # Both sides start their own OPA from their own folder: only the evidence comes from the settings.
    settings = build_settings({"opa_timeout": 60.0}, evidence_dir=evidence, mlflow_url=mlflow)

    loaded = load_manifests(paths)
    with tempfile.TemporaryDirectory(prefix="gatekeeper-impact-") as scratch:
        base_side = _export(top, relative, base, Path(scratch) / "base")
        head_side = _export(top, relative, head, Path(scratch) / "head") if head else Side("working tree", folder)
        note_default_folders(settings, evidence=True)
        result = _evaluate_both(settings, base_side, head_side, loaded.manifests, environments)
    for error in loaded.errors:
        typer.echo(f"gatekeeper: {error}", err=True)
    changes, problems, decisions = result
    args = (base_side, head_side, environments, len(loaded.manifests), decisions, changes)
    table = _render_table(*args)
    if output is not None:
        try:
            output.write_text(_render_json(*args) if output_format == "json" else table, encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot write {output}: {exc.strerror}") from None
    typer.echo(_render_json(*args) if output_format == "json" and output is None else table, nl=False)
    for problem in problems:
        typer.echo(f"gatekeeper: {problem}", err=True)
    if loaded.errors or problems:
        raise typer.Exit(2)
    raise typer.Exit(1 if changes else 0)


def _evaluate_both(settings: Any, base: Side, head: Side, manifests: list, environments: list[str]
                   ) -> tuple[list[Change], list[str], int]:
    from gatekeeper.evidence.files import EvidenceRootError
    from gatekeeper.pipeline.gate import UnknownEnvironment
    from gatekeeper.opa.server import OpaServer, OpaStartError
    from gatekeeper.opa.client import PolicyError
    from gatekeeper.pipeline.assemble import evidence_source, open_gate

    async def run() -> tuple[list[Change], list[str], int]:
        source = evidence_source(settings)  # one source for both: only the policies differ
        async with AsyncExitStack() as stack:
            stack.push_async_callback(source.close)
            servers = [OpaServer(side.folder) for side in (base, head)]
            for server in servers:
                stack.callback(server.stop)
            urls = await asyncio.gather(*(asyncio.to_thread(server.start) for server in servers))  # boot both at once
            gates = []
            for side, url in zip((base, head), urls):
                side_settings = settings.model_copy(update={"opa_url": url})  # the OPA just started for this side
                gate = await stack.enter_async_context(open_gate(side_settings, source=source))
                side.revision = gate.policy_revision
                gates.append(gate)
            for side, gate in zip((base, head), gates):
                for environment in environments:
                    try:
                        gate.check_environment(environment)
                    except UnknownEnvironment as exc:
                        raise UnknownEnvironment(f"{exc} at {side.label}") from None
            changes: list[Change] = []
            problems: list[str] = []
            decisions = 0
            for environment in environments:
                before, after = await asyncio.gather(*(g.evaluate(manifests, environment) for g in gates))
                problems.extend(before.problems + after.problems)
                if len(before.report.results) != len(after.report.results):
                    raise PolicyError("base and head evaluated a different number of objects")
                decisions += len(after.report.results)
                for old, new in zip(before.report.results, after.report.results):
                    change = compare(environment, old, new)
                    if change is not None:
                        changes.append(change)
            return changes, list(dict.fromkeys(problems)), decisions

    try:
        return asyncio.run(run())
    except (EvidenceRootError, UnknownEnvironment, OpaStartError, PolicyError, ValueError) as exc:
        raise fail(str(exc)) from None


def _impact_from_log(paths: list[str] | None, base: str | None, head: str | None, evidence: Path | None,
                     mlflow: str | None, since: str | None, audit_db: str | None, environment: str | None,
                     policy_dir: Path | None, output_format: str, output: Path | None) -> None:
    """`--from-log`: the recorded decisions under the working tree's policies (cli.log_impact)."""
    from datetime import datetime, timezone

    from gatekeeper.audit.errors import display_url
    from gatekeeper.cli import log_impact

    given = [flag for flag, value in (("--base", base), ("--head", head), ("--evidence", evidence),
                                      ("--mlflow", mlflow), ("manifests", paths)) if value]
    if given:
        raise fail(f"--from-log replays the recorded inputs (their evidence as it was) against the working tree: "
                   f"{given[0]} does not apply")
    if output_format not in log_impact.FORMATS:
        raise fail(f"unknown format '{output_format}' (choose one of: {', '.join(log_impact.FORMATS)})")
    since = since or log_impact.DEFAULT_SINCE
    environments = parse_environments(environment) if environment is not None else None
    url = build_settings(audit_db=audit_db).audit_db
    folder = _policy_dir(policy_dir)
    result = log_impact.run(audit_db=url, policy_dir=folder, since=since, environments=environments,
                            now=datetime.now(timezone.utc))
    shown_url = display_url(url)  # never a password
    table = log_impact.render_table(result, shown_url, since)
    chosen = log_impact.RENDERERS[output_format](result, shown_url, since)
    if output is not None:
        try:
            output.write_text(chosen, encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot write {output}: {exc.strerror}") from None
    typer.echo(table if output is not None else chosen, nl=False)
    for part, what in ((result.admissions, "admission"), (result.workloads, "running workload")):
        if part.unreplayable:
            note(f"{part.unreplayable} {what}{'s' if part.unreplayable != 1 else ''} not replayable "
                 f"(no stored input): not part of the comparison")
    raise typer.Exit(1 if result.changed else 0)
