"""One call to the Kubernetes API as both clients make it (auditor/client.py, webhook/kube.py):
the synchronous `kubernetes` client in a thread so the event loop keeps serving, with a
timeout, and every failure turned into the caller's error type carrying what was asked and
the API server's own words. A leaf: the front doors' client modules import it; nothing
here decides what a failure means.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from kubernetes.client.rest import ApiException


async def call(what: str, fn: Any, *args: Any, timeout: float, error: type[Exception], **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` in a thread; any failure is raised as `error("<what>: ...")`,
    chained to the original (an ApiException's `.status` stays readable as `__cause__`)."""
    try:
        return await asyncio.to_thread(fn, *args, _request_timeout=timeout, **kwargs)
    except ApiException as exc:
        detail = status_message(exc)
        raise error(f"{what}: HTTP {exc.status} {exc.reason}{': ' + detail if detail else ''}") from exc
    except Exception as exc:  # noqa: BLE001 - urllib3/socket errors: the API is unreachable
        raise error(f"{what}: {type(exc).__name__}: {exc}") from exc


def status_message(exc: ApiException) -> str:
    """The API server's own words (its Status message), when it gave any."""
    try:
        return str(json.loads(exc.body or "{}").get("message") or "")
    except (ValueError, AttributeError):
        return ""
