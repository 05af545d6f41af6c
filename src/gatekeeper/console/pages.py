"""The console's pages: one GET handler per stable URL, each reading through `queries` and
rendering one template. Nothing here writes anything."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from gatekeeper.console import chart, markup, params, queries, timefmt
from gatekeeper.console.sources import Sources
from gatekeeper.types.names import model_ref_problem

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.filters["utc"] = timefmt.utc
TEMPLATES.env.filters["ago"] = lambda value, now: timefmt.relative(value, now)
TEMPLATES.env.filters["show"] = lambda value: (
    ("yes" if value else "no") if isinstance(value, bool)
    else ", ".join(map(str, value)) if isinstance(value, list) else value)
TEMPLATES.env.globals["urlencode"] = urlencode
TEMPLATES.env.globals.update(compliant=markup.compliant, outcome=markup.outcome, model_link=markup.model_link,
                             when=markup.when, workload_links=markup.workload_links)


# The decisions page's quick time ranges (links setting `since`).
RANGES = [("last hour", timedelta(hours=1)), ("last 24 hours", timedelta(days=1)), ("last 7 days", timedelta(days=7)),
          ("last 30 days", timedelta(days=30))]


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def refuse(request: Request, status: int, reason: str) -> Response:
    """A 4xx/5xx a person or a script can read: a page for browsers, JSON for the rest."""
    if wants_html(request):
        return render(request, "error.html", {"status": status, "reason": reason}, status)
    return JSONResponse({"reason": reason}, status_code=status)


def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    sources: Sources = request.app.state.sources
    base = {"now": sources.clock(), "user": request.state.user, "path": request.url.path}
    return TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status)


def register(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse)
    async def overview(request: Request) -> Response:
        sources = request.app.state.sources
        return render(request, "overview.html", {"o": await queries.overview(sources), "has_cluster": sources.inventory is not None})

    @app.get("/models", response_class=HTMLResponse)
    async def models(request: Request) -> Response:
        lines, problem = await queries.models(request.app.state.sources)
        return render(request, "models.html", {"lines": lines, "inventory_problem": problem})

    @app.get("/models/{name}/{version}", response_class=HTMLResponse)
    async def model_version(request: Request, name: str, version: str) -> Response:
        problem = model_ref_problem(name, version, None)
        if problem:
            return refuse(request, 400, f"models/{name}/{version}: {problem}")
        page = await queries.version_page(request.app.state.sources, name, version)
        if page.evidence is None and not page.timeline and not page.running:
            return refuse(request, 404, f"no model {name} version {version}: no evidence, no workload and no decision "
                                        f"names it ({page.evidence_problem})")
        return render(request, "model_version.html", {"p": page, "chart": chart.timeline(page.timeline),
                                                       "fairness": queries.fairness_rows(page)})

    @app.get("/workloads", response_class=HTMLResponse)
    async def workloads(request: Request) -> Response:
        query = params.workload_query(request.query_params)
        rows, problem = await queries.workloads(request.app.state.sources, query)
        return render(request, "workloads.html", {"rows": rows, "q": query, "inventory_problem": problem,
                                                   "has_cluster": request.app.state.sources.inventory is not None})

    @app.get("/decisions", response_class=HTMLResponse)
    async def decisions(request: Request) -> Response:
        query = params.decision_query(request.query_params)
        sources = request.app.state.sources
        page = await queries.decisions(sources, query)
        kept = {k: v for k, v in request.query_params.items() if k != "before" and v}
        older = urlencode({**kept, "before": page.older}) if page.older else None
        untimed = {k: v for k, v in kept.items() if k not in ("since", "until")}
        now = sources.clock()
        ranges = [(label, urlencode({**untimed, "since": (now - span).strftime("%Y-%m-%dT%H:%MZ")}))
                  for label, span in RANGES]
        return render(request, "decisions.html", {"records": page.records, "q": query, "older": older, "ranges": ranges,
                                                   "searched": page.searched, "window": queries.SEARCH_WINDOW,
                                                   "first_page": urlencode(kept), "has_log": sources.store is not None})

    @app.get("/decisions/{decision_id}", response_class=HTMLResponse)
    async def decision(request: Request, decision_id: str) -> Response:
        found = await _recorded(request, decision_id)
        if isinstance(found, Response):
            return found
        return render(request, "decision.html", {"d": found})

    @app.get("/decisions/{decision_id}/proof")
    async def proof(request: Request, decision_id: str) -> Response:
        """The inclusion proof file (`gatekeeper audit prove`), for `gatekeeper audit verify-proof`."""
        found = await _recorded(request, decision_id)
        if isinstance(found, Response):
            return found
        if found.proof is None:
            return refuse(request, 409, found.proof_problem or "no proof")
        return JSONResponse(found.proof, headers={"Content-Disposition": f'attachment; filename="{decision_id}.proof.json"'})

    @app.get("/policy", response_class=HTMLResponse)
    async def policy(request: Request) -> Response:
        sources = request.app.state.sources
        table = await queries.requirement_table(sources)
        if table is None:
            return refuse(request, 503, "the loaded policies do not define data.gatekeeper.console.requirement_table "
                                        "(policies/gatekeeper/console/): update the policy folder OPA reads")
        strictness = {"deny": 0, "warn": 1, "dryrun": 2}  # the most enforced environment first
        ordered = sorted(table.items(), key=lambda item: (strictness.get(item[1].get("enforcement"), 0), item[0]))
        return render(request, "policy.html", {"table": ordered, "facts": sources.gate.facts})


async def _recorded(request: Request, decision_id: str) -> Any:
    """The decision a page is about, or the 400/404 page saying why there is none."""
    if not queries.IDENTIFIER.match(decision_id):
        return refuse(request, 400, "a decision ID is letters, digits, '.', '_', '-' (as `gatekeeper audit list` shows it)")
    found = await queries.decision(request.app.state.sources, decision_id)
    if found is None:
        return refuse(request, 404, f"no decision {decision_id} in the log")
    return found
