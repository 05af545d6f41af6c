"""/readyz kept true to life: OPA answering with policies loaded, audit store writable."""

from __future__ import annotations

import asyncio

from gatekeeper.audit import AuditStoreError
from gatekeeper.pipeline.gate import Gate


async def watch(gate: Gate, ready: dict[str, str | None], interval: float = 1.0, revision_every: float = 30.0,
                audit_every: float = 5.0) -> None:
    """Keep /readyz true to life: OPA answering with policies loaded, audit store writable.

    Cheap checks every second; the policy revision (every module's text from OPA) and
    the audit store's trial write run less often, as they compete with reviews.
    """
    loop = asyncio.get_running_loop()
    next_revision = next_audit = loop.time()
    while True:
        try:
            if gate.opa_server is not None:
                await asyncio.to_thread(gate.opa_server.ensure_running)  # the embedded OPA died: restart it
            if ready["opa"] is not None or loop.time() >= next_revision:
                if await gate.engine.revision() != gate.policy_revision:
                    await gate.refresh_policy()
                next_revision = loop.time() + revision_every
            elif not await gate.engine.data("gatekeeper/environments"):
                raise RuntimeError(f"OPA at {gate.engine.url} has no gatekeeper policies loaded")
            ready["opa"] = None
        except Exception as exc:  # noqa: BLE001 - any failure makes the gate unready
            ready["opa"] = str(exc)
        if ready["audit"] is not None or loop.time() >= next_audit:
            next_audit = loop.time() + audit_every
            try:
                if gate.audit is not None:
                    await gate.audit.check_writable()
                ready["audit"] = None
            except AuditStoreError as exc:
                ready["audit"] = str(exc)
            except Exception as exc:  # noqa: BLE001
                ready["audit"] = f"audit store check failed: {exc}"
        await asyncio.sleep(interval)
