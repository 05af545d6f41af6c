"""JSON (named so as not to shadow the standard library's `json`).

With one environment the JSON is the README "The decision" report itself; with several it is

    {"allowed": <every environment admits everything>,
     "stops_at": <first environment, in the order given, that denies something, or null>,
     "environments": {"staging": <report>, "production": <report>}}
"""

from __future__ import annotations

import json
from typing import Any

from gatekeeper.reports.common import Reports
from gatekeeper.reports.summary import stops_at
from gatekeeper.types.decision import Report


def render_json(report: Report) -> str:
    return report.model_dump_json(by_alias=True, indent=2)


def json_document(reports: Reports) -> dict[str, Any]:
    if len(reports) == 1:
        return next(iter(reports.values())).model_dump(mode="json", by_alias=True)
    return {
        "allowed": all(report.allowed for report in reports.values()),
        "stops_at": stops_at(reports),
        "environments": {env: report.model_dump(mode="json", by_alias=True) for env, report in reports.items()},
    }


def render_json_reports(reports: Reports) -> str:
    if len(reports) == 1:
        return render_json(next(iter(reports.values())))
    return json.dumps(json_document(reports), indent=2)
