"""The console's FastAPI application: its sources (opened for its lifetime), the sign-in
gate in front of every page, and the answers to what goes wrong. Only GET, and the
login form's POST: no request changes anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from gatekeeper.audit import AuditStore, AuditStoreError, open_store
from gatekeeper.config import Settings
from gatekeeper.console import pages, sources as reading
from gatekeeper.console.auth import COOKIE, Access, session_value
from gatekeeper.console.params import BadQuery
from gatekeeper.evidence.files import EvidenceRootError
from gatekeeper.opa.client import PolicyError
from gatekeeper.opa.server import OpaStartError
from gatekeeper.pipeline.assemble import open_gate
from gatekeeper.pipeline.gate import utc_now

OPEN_PATHS = ("/login", "/static/", "/healthz")
MAX_LOGIN_BODY = 4096
# Headers every answer carries: no script runs, no other site frames or caches a page.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(settings: Settings, access: Access, *, inventory: reading.InventoryReader | None = None,
               clock: reading.Clock = utc_now, monotonic: Callable[[], float] = time.monotonic) -> FastAPI:
    """`inventory` reads the auditor's rows (None: no cluster); `clock` is the time pages are
    shown and models judged at (tests move it instead of sleeping)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # No audit store is given to the gate: the console's judgements are never recorded.
        async with _starting(app), open_gate(settings, clock=clock) as gate:
            app.state.sources = reading.Sources(gate, await _open_log(settings.audit_db), inventory, clock, monotonic)
            await app.state.sources.last_background()  # the one whole-log search, before the first page
            try:
                yield
            finally:
                await app.state.sources.close()

    app = FastAPI(title="Model Gatekeeper console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.startup_failure = None
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")

    @app.middleware("http")
    async def signed_in(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.user = None
        path = request.url.path
        if not path.startswith(OPEN_PATHS):
            client = request.client.host if request.client else None
            user = access.user_of(request.headers, request.cookies.get(COOKIE), client)
            if user is None:
                if pages.wants_html(request):
                    return RedirectResponse(f"/login?next={quote(_local(path + ('?' + request.url.query if request.url.query else '')))}",
                                            status_code=303)
                return pages.JSONResponse({"reason": "sign in: send Authorization: Bearer <console token>"}, status_code=401,
                                          headers={"WWW-Authenticate": "Bearer"})
            request.state.user = user
            if request.method not in ("GET", "HEAD"):
                return pages.refuse(request, 405, "the console is read-only: only GET")
            sources: reading.Sources = request.app.state.sources
            if sources.store is None:  # the log may have been made since the console started
                sources.store = await _open_log(settings.audit_db)
        try:
            response = await call_next(request)
        except BadQuery as exc:
            response = pages.refuse(request, 400, str(exc))
        except PolicyError as exc:
            response = pages.refuse(request, 503, f"the policy engine cannot be read: {exc}")
        except AuditStoreError as exc:
            response = pages.refuse(request, 503, f"the decision log cannot be read: {exc}")
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/login")
    async def login_form(request: Request, next: str = "/") -> Response:  # noqa: A002 - the form's field name
        return pages.render(request, "login.html", {"next": _local(next), "failed": False, "access": access})

    @app.post("/login")
    async def login(request: Request) -> Response:
        body = await request.body()
        form = parse_qs(body[:MAX_LOGIN_BODY].decode("utf-8", "replace"))
        target = _local((form.get("next") or ["/"])[0])
        if not access.token_matches((form.get("token") or [""])[0].strip()):
            return pages.render(request, "login.html", {"next": target, "failed": True, "access": access}, 401)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, session_value(access.token or ""), httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
        return response

    @app.get("/logout")
    async def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    pages.register(app)
    return app


@asynccontextmanager
async def _starting(app: FastAPI) -> AsyncIterator[None]:
    """A console that cannot start (OPA, the evidence folder, a refused policy) ends the
    command with one line (cli.console reads it), not uvicorn's traceback."""
    try:
        yield
    except (PolicyError, OpaStartError, EvidenceRootError, OSError) as exc:
        app.state.startup_failure = str(exc)
        logging.getLogger("uvicorn.error").disabled = True
        raise


def _local(target: str) -> str:
    """Only a path on this site: a login link must not send anyone elsewhere (open redirect)."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


async def _open_log(url: str) -> AuditStore | None:
    """The decision log, read-only; None when there is none yet (the pages say how to start one)."""
    if url.startswith("sqlite:") and "?" not in url:
        url += "?mode=ro"
    try:
        return await open_store(url, create=False)
    except AuditStoreError:
        return None
