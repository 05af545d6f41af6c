"""`GET /v1/inventory`: what runs where, the rows `gatekeeper inventory --format json` prints.

The rows come from the background auditor's PolicyReports, read through the Kubernetes
API. The webhook and the auditor are sibling front doors that may not import each other,
so the webhook does not read them itself: `gatekeeper serve` (cli/serve.py) injects a
reader built on the auditor's, or None when the gate has no cluster to ask. Every answer
is JSON: the rows, or `{"error": ...}` saying why not (never a traceback).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi.responses import JSONResponse

from gatekeeper import metrics
from gatekeeper.webhook.review import bad_request

log = structlog.get_logger("gatekeeper")

# namespace (None: all) -> the rows, as dicts; raises KubernetesUnavailable
InventoryReader = Callable[[str | None], Awaitable[list[dict[str, Any]]]]

NOT_CONFIGURED = ("the Kubernetes API is not configured: this gate runs outside a cluster and was given no "
                  "kubeconfig (gatekeeper serve --kubeconfig PATH, or KUBECONFIG)")
# a namespace name (RFC 1123 label): anything else cannot name one, so it is refused, not listed as empty
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class KubernetesUnavailable(RuntimeError):
    """The Kubernetes API could not be read (the message says which call and why)."""


async def answer(read: InventoryReader | None, namespace: str | None) -> JSONResponse:
    if namespace is not None and not _NAMESPACE.match(namespace):
        return bad_request(400, f"namespace {namespace!r} is not a Kubernetes namespace name", "inventory")
    if read is None:
        return JSONResponse({"error": NOT_CONFIGURED}, status_code=503)
    try:
        rows = await read(namespace)
    except KubernetesUnavailable as exc:
        metrics.ERRORS.labels("kubernetes").inc()
        log.warning("inventory unavailable", error=str(exc))
        return JSONResponse({"error": f"the Kubernetes API could not be read: {exc}"}, status_code=503)
    except Exception as exc:  # noqa: BLE001 - a bug here must still answer with a reason, not a bare 500
        metrics.ERRORS.labels("inventory").inc()
        log.exception("inventory failed")
        return JSONResponse({"error": f"the inventory failed ({type(exc).__name__}: {exc})"}, status_code=500)
    return JSONResponse(rows)
