"""Fuzzes every operation in openapi.yaml against the real service: zero 5xx answers.

The service runs as its own process (``python -m handover``) on a copy of the migrated SQLite
database, with the bearer secret and a logged-in teamleider session + CSRF token, so the
generated requests get past authentication and reach the parsing and queue rules. Schemathesis
generates both valid and invalid requests (positive and negative mode); about half of the
requests on case paths use a reference that exists, so claim/close/... really act on cases.

``HANDOVER_FUZZ_REQUESTS`` sets the total (default 10 000, as in ``make test``).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from handover.settings import HANDOVER_ROOT
from tests.conftest import SHARED_SECRET, case_body

FUZZ_REQUESTS = int(os.environ.get("HANDOVER_FUZZ_REQUESTS", "10000"))
# The service's log is kept here after the run (handover/var is not committed).
SERVICE_LOG = HANDOVER_ROOT / "var" / "artifacts" / "fuzz-service.log"
DEMO_PASSWORD = "fuzz-demo-password"
BOT = {"Authorization": f"Bearer {SHARED_SECRET}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveService:
    base_url: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def errors(self) -> str:
        """The service's logged errors (with tracebacks), for the failure message."""
        blocks = re.split(r"\n(?=\d{4}-\d\d-\d\d )", self.log())
        return "\n".join(b for b in blocks if " ERROR " in b or "Traceback" in b)[-6000:]


@pytest.fixture(scope="module")
def live_service(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[LiveService]:
    tmp = tmp_path_factory.mktemp("fuzz")
    database = tmp / "handover.db"
    shutil.copy(sqlite_template, database)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HANDOVER_", "RASA_", "REDIS_"))}
    env |= {
        "PYTHONPATH": os.pathsep.join([str(HANDOVER_ROOT / "src"), str(HANDOVER_ROOT.parent)]),
        "HANDOVER_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "HANDOVER_SHARED_SECRET": SHARED_SECRET,
        "HANDOVER_HOST": "127.0.0.1",
        "HANDOVER_PORT": str(port),
        "HANDOVER_DEMO_PASSWORD": DEMO_PASSWORD,
        "HANDOVER_OFFICE_HOURS": "mon-sun 00:00-24:00",
        "HANDOVER_LOG_LEVEL": "WARNING",
        # No Rasa: outbox calls fail fast and wait for a retry, which is not what is tested here.
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
    }
    SERVICE_LOG.parent.mkdir(parents=True, exist_ok=True)
    log_path = SERVICE_LOG
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "handover"], env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    service = LiveService(f"http://127.0.0.1:{port}", log_path, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the service exited with {process.returncode}:\n{service.log()}")
            try:
                if requests.get(service.base_url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the service did not become healthy:\n{service.log()}")
            time.sleep(0.2)
        yield service
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def staff_login(base_url: str) -> tuple[requests.Session, str]:
    """Log in as the demo teamleider; returns the session (with cookie) and its CSRF token."""
    http = requests.Session()
    page = http.get(base_url + "/login", timeout=10).text
    login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert login_csrf
    resp = http.post(
        base_url + "/login",
        data={"username": "demo", "password": DEMO_PASSWORD, "csrf_token": login_csrf[1]},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', resp.text)
    assert token
    return http, token[1]


@dataclass
class Tally:
    requests: int = 0
    per_operation: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, label: str, status: int) -> None:
        self.requests += 1
        self.per_operation[label] = self.per_operation.get(label, 0) + 1
        self.statuses[status] = self.statuses.get(status, 0) + 1


def run_operation(
    operation: Any,
    examples: int,
    *,
    service: LiveService,
    http: requests.Session,
    headers: dict[str, str],
    references: list[str],
    tally: Tally,
) -> int:
    """Up to ``examples`` generated requests for one operation; returns how many were sent."""
    before = tally.requests
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        case = data.draw(cases)
        if isinstance(case.path_parameters, dict) and "reference" in case.path_parameters:
            if data.draw(st.booleans()):  # half the time a case that exists
                case.path_parameters["reference"] = data.draw(st.sampled_from(references))
        response = case.call(base_url=service.base_url, session=http, headers=headers, timeout=30)
        tally.add(operation.label, response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    try:
        fuzz()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # schemathesis' FailureGroup is a BaseExceptionGroup
        raise AssertionError(f"{e}\n\nservice log ({SERVICE_LOG}):\n{service.errors()}") from e
    return tally.requests - before


def test_fuzz_openapi_no_server_errors(live_service: LiveService) -> None:
    schema = schemathesis.openapi.from_path(HANDOVER_ROOT / "openapi.yaml")
    operations = [result.ok() for result in schema.get_all_operations()]
    http, csrf = staff_login(live_service.base_url)
    headers = BOT | {"X-CSRF-Token": csrf}
    references = []
    for i in range(5):
        created = http.post(
            live_service.base_url + "/api/cases", json=case_body(f"fuzz-seed-{i}"), headers=BOT, timeout=10
        )
        assert created.status_code == 201, created.text
        references.append(created.json()["reference"])

    tally = Tally()
    started = time.monotonic()
    # Operations with few possible inputs (GET /healthz) run out early; later rounds share
    # the rest of the budget among the operations that can still produce new requests.
    productive = list(operations)
    while tally.requests < FUZZ_REQUESTS and productive:
        share = math.ceil((FUZZ_REQUESTS - tally.requests) / len(productive))
        still = []
        for operation in productive:
            sent = run_operation(
                operation,
                share,
                service=live_service,
                http=http,
                headers=headers,
                references=references,
                tally=tally,
            )
            if sent >= share:
                still.append(operation)
            if tally.requests >= FUZZ_REQUESTS:
                break
        productive = still
    elapsed = time.monotonic() - started

    summary = "\n".join(f"  {label}: {n}" for label, n in sorted(tally.per_operation.items()))
    print(
        f"\nfuzz: {tally.requests} requests in {elapsed:.0f} s over {len(tally.per_operation)} operations, "
        f"statuses {dict(sorted(tally.statuses.items()))}\n{summary}"
    )
    assert tally.requests >= FUZZ_REQUESTS, "the operations ran out of new inputs before the target"
    assert not any(status >= 500 for status in tally.statuses)
    assert "unhandled error" not in live_service.log()
