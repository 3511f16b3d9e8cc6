"""Schema-driven fuzzing of the simulator's own OpenAPI document (schemathesis).

Every operation of ``/openapi.json`` gets generated requests (with a valid bearer token);
no answer may be a 5xx unless fault injection asked for it, and injected faults must
answer exactly the contract's 500 body. A few examples per operation in the normal run,
many more under ``-m slow``.
"""

from __future__ import annotations

import re

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from waltero_frames.sim import DEMO_DEVICE, DEMO_ORG

#: Faults the fuzz session injects on purpose: these 500s are expected, no others.
FAULT_PATH = r"/fields$"


@pytest.fixture(scope="module")
def fuzz_sim(waltero_sim_server):
    sim = waltero_sim_server
    sim.reset()
    sim.configure(
        rate=None, login_limit=None, fail=[{"status": 500, "path": FAULT_PATH, "times": None}]
    )
    token = requests.post(
        sim.url("/api/auth/login"), json={"username": sim.username, "password": sim.password}
    ).json()["token"]
    yield sim, token
    sim.reset()


@pytest.fixture(scope="module")
def sim_schema(fuzz_sim):
    sim, _ = fuzz_sim
    return schemathesis.openapi.from_url(sim.url("/openapi.json"))


OPERATIONS = [
    ("POST", "/api/auth/login"),
    ("GET", "/api/auth/me"),
    ("GET", "/api/organizations/{orgId}/applications/metering/v3/data/device-daily-consumption"),
    ("GET", "/api/organizations/{orgId}/applications/metering/data/device-daily-consumption"),
    ("GET", "/api/organizations/{orgId}/devices"),
    ("GET", "/api/devices/{deviceId}"),
    ("GET", "/api/devices/{deviceId}/fields"),
    ("GET", "/api/devices/{deviceId}/telemetry"),
    ("GET", "/api/organizations/{orgId}/data-audit/changes"),
]

#: (pin real ids and the data year, generation mode) per test variant.
VARIANTS = {
    "any-ids": (False, GenerationMode.POSITIVE),
    "real-ids": (True, GenerationMode.POSITIVE),
    "negative": (True, GenerationMode.NEGATIVE),
}


def only_injected_server_errors(ctx, response, case):
    """5xx only where a fault rule matches, and then exactly the contract's 500 body."""
    path = case.formatted_path
    if re.search(FAULT_PATH, path) and response.status_code >= 500:
        assert response.status_code == 500
        assert response.json() == {"code": "INTERNAL_ERROR", "message": "injected fault"}
        return True
    assert response.status_code < 500, (
        f"unrequested {response.status_code} for {case.method} {path}"
    )
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"code", "message"}, body
    return True


def _check(case, fuzz_sim, pin):
    sim, token = fuzz_sim
    if pin:  # reach the handlers behind the 404s: real ids, generated everything else
        for name, value in (("orgId", DEMO_ORG), ("deviceId", DEMO_DEVICE)):
            if name in (case.path_parameters or {}):
                case.path_parameters[name] = value
        # generated instants span years 0000-9999 (mostly 400); move them into the data year
        for name in ("startDate", "endDate", "since"):
            value = (case.query or {}).get(name)
            if isinstance(value, str):
                case.query[name] = re.sub(r"^\d{4}-", "2026-", value)
        if "fields" in (case.query or {}):  # a valid list and a range within one month
            case.query["fields"] = "meter.value.raw,meter.value.processed,battery.voltage"
            start, end = case.query.get("startDate"), case.query.get("endDate")
            if isinstance(start, str) and isinstance(end, str) and re.match(r"^\d{4}-\d\d-", start):
                case.query["endDate"] = re.sub(r"^\d{4}-\d\d-", start[:8], end)
    case.call_and_validate(
        base_url=sim.base_url,
        headers={"Authorization": f"Bearer {token}"},
        checks=[only_injected_server_errors],
        excluded_checks=[not_a_server_error],
        timeout=30,
    )


def _fuzz(sim_schema, fuzz_sim, method, path, examples, variant):
    operation = sim_schema[path][method]
    pin, mode = VARIANTS[variant]

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def run(case):
        _check(case, fuzz_sim, pin)

    run()


def test_operations_list_covers_the_document(sim_schema):
    served = {(op.ok().method.upper(), op.ok().path) for op in sim_schema.get_all_operations()}
    assert served == set(OPERATIONS)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("method,path", OPERATIONS)
def test_fuzz_no_unrequested_5xx(sim_schema, fuzz_sim, method, path, variant):
    _fuzz(sim_schema, fuzz_sim, method, path, 12, variant)


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("method,path", OPERATIONS)
def test_fuzz_no_unrequested_5xx_exhaustive(sim_schema, fuzz_sim, method, path, variant):
    _fuzz(sim_schema, fuzz_sim, method, path, 300, variant)


def test_injected_faults_were_exercised(fuzz_sim):
    sim, _ = fuzz_sim
    # the fuzz runs above hit /fields and got the injected 500s counted under its route
    assert sim.counters[("fields", 500)] >= 1
    assert not any(status == "error" for (_, status) in sim.counters)
    # ... and reached the handlers behind validation and scoping, not only 400/404
    for route in ("daily_consumption_v3", "telemetry", "changes", "devices", "device"):
        assert sim.counters[(route, 200)] >= 1, route
