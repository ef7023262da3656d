"""The audit log file of a real ``kubegate serve --apps-domain``: the ``code`` and ``state``
that the OIDC callback and the app-origin sign-in carry in their query are redacted from
``requestURI`` (auth/audit_event.py), and appear nowhere in the file."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.proxy.harness import Kubegate, running_kubegate
from integration.ui.test_apps import DOMAIN, fetch

HTML = ("Accept", "text/html")
APP_HOST = f"http--web--default.{DOMAIN}"


@pytest.fixture(scope="module")
def audit_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sign-in-audit") / "audit.log"


@pytest.fixture(scope="module")
def kg(audit_log: Path) -> Iterator[Kubegate]:
    with running_kubegate(f"--audit-log-path={audit_log}", f"--apps-domain={DOMAIN}") as running:
        yield running


def secret() -> str:
    return "s3cr3t-" + uuid.uuid4().hex


def log_text(audit_log: Path) -> str:
    """The audit log file as written so far (a few kilobytes: read whole)."""
    return audit_log.read_text() if audit_log.exists() else ""


async def audited(audit_log: Path, audit_id: str, within: float = 10.0) -> dict[str, Any]:
    """The ResponseComplete event of the request answered with ``audit_id``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        for line in log_text(audit_log).splitlines():
            event = json.loads(line)
            if event["auditID"] == audit_id and event["stage"] == "ResponseComplete":
                return event
        assert loop.time() < deadline, f"no audit event {audit_id}"
        await asyncio.sleep(0.05)


async def test_oidc_callback_code_and_state_are_redacted(kg: Kubegate, audit_log: Path) -> None:
    """``/oauth2/callback?code=…&state=…`` is logged with both values REDACTED."""
    code, state = secret(), secret()
    response = await fetch(kg, "localhost", f"/oauth2/callback?code={code}&state={state}", [HTML])
    event = await audited(audit_log, response.header("audit-id") or "")
    assert event["requestURI"] == "/oauth2/callback?code=REDACTED&state=REDACTED"
    assert code not in log_text(audit_log) and state not in log_text(audit_log)


async def test_apps_callback_code_and_state_are_redacted(kg: Kubegate, audit_log: Path) -> None:
    """The app origin's ``/-/apps-callback?code=…`` is logged with the code REDACTED."""
    code, state = secret(), secret()
    target = f"/-/apps-callback?code={code}&state={state}"
    response = await fetch(kg, APP_HOST, target, [HTML])
    assert response.status == 400  # an unknown code; the request is audited all the same
    event = await audited(audit_log, response.header("audit-id") or "")
    assert event["requestURI"] == "/-/apps-callback?code=REDACTED&state=REDACTED"
    assert code not in log_text(audit_log) and state not in log_text(audit_log)


async def test_apps_auth_state_is_redacted(kg: Kubegate, audit_log: Path) -> None:
    """The main origin's ``/-/apps-auth`` is logged with its state REDACTED, the rest kept."""
    state = secret()
    target = f"/-/apps-auth?host={APP_HOST}&then=%2F&state={state}"
    response = await fetch(kg, "localhost", target, [HTML])
    event = await audited(audit_log, response.header("audit-id") or "")
    assert event["requestURI"] == f"/-/apps-auth?host={APP_HOST}&then=%2F&state=REDACTED"
    assert state not in log_text(audit_log)
