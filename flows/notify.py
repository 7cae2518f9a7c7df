"""The optional webhook: a failed run, or a deployment the standard refused, POSTs one JSON object.

The URL comes from the environment variable that `flows.webhook_env` names (a webhook URL is a
credential, so it never sits in params.yaml). A receiver that is down is logged, never fatal: the
run's own state is what counts. The payload works as is for most receivers (Slack and Teams
read `text`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from millrace.config.params import load_params

REFUSED = "refusing to deploy"  # what stages/deploy.py says when it will not ship a model
TIMEOUT_SECONDS = 10


def webhook_url(root: Path) -> str | None:
    name = load_params(root / "params.yaml").flows.webhook_env
    if not name:
        return None
    return os.environ.get(name) or None


def payload(flow_name: str, flow_run: Any, message: str, root: Path) -> dict[str, Any]:
    event = "deployment_refused" if REFUSED in message else "run_failed"
    headline = f"millrace: {flow_name} run {flow_run.name!r} " + (
        "refused to deploy the model" if event == "deployment_refused" else "failed"
    )
    return {
        "event": event,
        "text": f"{headline}: {message.strip()[:1500]}",
        "flow": flow_name,
        "flow_run": flow_run.name,
        "flow_run_id": str(flow_run.id),
        "workspace": str(root),
        "message": message,
    }


def on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """A Prefect flow `on_failure` hook: post the failure to the webhook, if one is declared."""
    import httpx
    from prefect.logging import get_logger

    logger = get_logger("millrace.notify")
    root = Path(flow_run.parameters.get("repo", ".")).resolve()
    try:
        url = webhook_url(root)
    except Exception as exc:  # params.yaml itself may be what failed the run
        logger.warning("no webhook sent: %s", exc)
        return
    if not url:
        return
    body = payload(flow.name, flow_run, state.message or "", root)
    try:
        httpx.post(url, json=body, timeout=TIMEOUT_SECONDS).raise_for_status()
    except httpx.HTTPError as exc:
        logger.warning("the webhook %s did not take the %s notice: %s", url.split("?")[0], body["event"], exc)
