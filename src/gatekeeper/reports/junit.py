"""JUnit XML for CI test tabs."""

from __future__ import annotations

from gatekeeper.reports.common import Reports, belongs, models_of, observed_text, who
from gatekeeper.types.decision import Violation
from gatekeeper.types.names import model_label


def _violation_text(violation: Violation) -> str:
    lines = [f"[{violation.requirement}]{who(violation)}: {violation.message}"]
    if violation.observed is not None or violation.threshold is not None:
        lines.append(f"    observed: {observed_text(violation.observed)}   threshold: {observed_text(violation.threshold)}")
    if violation.remediation:
        lines.append(f"    fix: {violation.remediation}")
    return "\n".join(lines)


def render_junit(reports: Reports, *, verbose: bool = False) -> str:
    """JUnit XML: a test suite per environment, a test case per object and model it serves.

    A denied case fails and lists its violations; a case the gate could not evaluate is
    an error; warnings and dry-run violations of admitted cases go to system-out; objects
    that serve no model appear as skipped cases only with --verbose.
    """
    from junit_xml import TestCase, TestSuite, to_xml_report_string

    suites = []
    for environment, report in reports.items():
        cases = []
        for decision in report.results:
            for model in models_of(decision):
                label = model_label(model.name, model.version) if model else "(no model)"
                case = TestCase(
                    name=f"{decision.object.display()} {label}", classname=f"gatekeeper.{environment}",
                    file=decision.source.file if decision.source else None,
                    line=decision.source.line if decision.source else None,
                )
                violations = [v for v in decision.violations if belongs(v, model, decision)]
                text = "\n".join(_violation_text(v) for v in violations)
                if decision.error:
                    case.add_error_info(message=f"gate could not evaluate: {decision.error}", output=text or None)
                elif not decision.allowed:
                    if violations:
                        message = f"denied in {environment}: " + ", ".join(v.requirement for v in violations)
                    else:
                        message = f"denied in {environment} (violations of another model of this object)"
                    case.add_failure_info(message=message, output=text or None, failure_type="denied")
                else:
                    notes = [*decision.warnings] if decision.enforcement == "warn" else []
                    if decision.enforcement == "dryrun" and violations:
                        notes = [f"dry run, recorded: {_violation_text(v).splitlines()[0]}" for v in violations]
                    case.stdout = "\n".join(notes) or None
                cases.append(case)
        if verbose:
            for skipped in report.skipped:
                case = TestCase(name=skipped.object.display(), classname=f"gatekeeper.{environment}",
                                file=skipped.source.file if skipped.source else None,
                                line=skipped.source.line if skipped.source else None)
                case.add_skipped_info(message=f"not model-serving: {skipped.reason}")
                cases.append(case)
        suites.append(TestSuite(f"gatekeeper check ({environment})", cases))
    return to_xml_report_string(suites, prettyprint=True, encoding="utf-8")
