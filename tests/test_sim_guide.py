"""Every ``curl … | jq`` command of the vendor guide, run by bash against the simulator.

The commands are the guide's walkthrough as published, kept in the fenced ``bash`` block
of ``docs/contract.md``; only ``BASE`` and the login credential placeholders are
substituted. The simulator serves under ``/prod`` like the guide's base URL, with the
default rate limits.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from waltero_frames.sim import DEMO_DEVICE, DEMO_ORG, SOUTH_ORG

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "contract.md"


def guide_commands() -> str:
    """The shell session of the guide: the fenced bash block(s) of docs/contract.md."""
    return "\n".join(re.findall(r"```bash\n(.*?)```", CONTRACT.read_text(), re.S))


STATEMENT_START = re.compile(r"^(curl\s|[A-Z][A-Z_]*=)")
MARK = "@@@ command "


def _complete(snippet: str) -> bool:
    return subprocess.run(["bash", "-n", "-c", snippet], capture_output=True).returncode == 0


def extract_statements(text: str) -> list[str]:
    """Shell statements of the guide: lines starting with ``curl`` or ``NAME=``, with their
    continuation lines (until bash parses the statement as complete)."""
    lines = text.splitlines()
    out, i = [], 0
    while i < len(lines):
        if not STATEMENT_START.match(lines[i]):
            i += 1
            continue
        j = i + 1
        snippet = lines[i]
        while snippet.endswith("\\") or not _complete(snippet):
            assert j < len(lines), f"unterminated shell statement in the guide: {snippet!r}"
            snippet += "\n" + lines[j]
            j += 1
        out.append(snippet)
        i = j
    return out


def jq_values(text: str) -> list:
    """The JSON values jq printed (one, or a stream)."""
    dec, pos, values = json.JSONDecoder(), 0, []
    text = text.strip()
    while pos < len(text):
        value, pos = dec.raw_decode(text, pos)
        values.append(value)
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return values


@pytest.fixture(scope="module")
def guide_run(waltero_sim_server):
    """Run the guide's statements once for the module (the server reset, under /prod)."""
    waltero_sim = waltero_sim_server
    waltero_sim.reset()
    if not (shutil.which("curl") and shutil.which("jq")):
        pytest.fail("curl and jq are required (make test installs them)")
    waltero_sim.configure(prefix="/prod")
    statements = extract_statements(guide_commands())
    script = ["set -o pipefail"]
    curls = []
    for stmt in statements:
        if stmt.startswith("BASE="):
            stmt = f"BASE='{waltero_sim.base_url}'"
        elif "/api/auth/login" in stmt:
            stmt = stmt.replace("you@example.com", waltero_sim.username).replace(
                '"password":"…"', f'"password":"{waltero_sim.password}"'
            )
        if stmt.startswith("curl"):
            curls.append(stmt)
            script.append(f"echo '{MARK}{len(curls) - 1}'")
        script.append(stmt)
    proc = subprocess.run(
        ["bash", "-c", "\n".join(script)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    chunks = proc.stdout.split(MARK)[1:]
    outputs = {}
    for chunk in chunks:
        idx, _, body = chunk.partition("\n")
        outputs[curls[int(idx)]] = jq_values(body)
    yield statements, outputs, waltero_sim
    waltero_sim.reset()


def _only(outputs: dict, needle: str) -> list:
    hits = [v for cmd, v in outputs.items() if needle in cmd.replace("\\\n", "")]
    assert len(hits) == 1, f"expected one guide command with {needle!r}"
    return hits[0]


def test_guide_has_the_expected_commands(guide_run):
    statements, outputs, _ = guide_run
    curls = [s for s in statements if s.startswith("curl")]
    assert len(curls) == 6  # me, Part 1, devices, telemetry, fields, changes
    assert all("| jq" in c for c in curls)
    assert any(s.startswith("TOKEN=$(curl") for s in statements)  # the login
    assert {s.split("=", 1)[0] for s in statements} >= {
        "BASE",
        "TOKEN",
        "ORG",
        "START",
        "END",
        "DEVICE",
    }
    assert len(outputs) == 6


def test_guide_me(guide_run):
    _, outputs, _ = guide_run
    (out,) = _only(outputs, "/api/auth/me")
    assert out["primary_org"] == DEMO_ORG
    assert {o["organization_id"] for o in out["all_accessible"]} == {DEMO_ORG, SOUTH_ORG}
    assert all(set(o) == {"organization_id", "name", "timezone"} for o in out["all_accessible"])


def test_guide_daily_consumption(guide_run):
    _, outputs, sim = guide_run
    (rows,) = _only(outputs, "/v3/data/device-daily-consumption")
    assert isinstance(rows, list) and rows
    assert rows == sim.world.daily_consumption_rows(
        DEMO_ORG, "2026-05-18T22:00:00.000Z", "2026-05-25T22:00:00.000Z", "day"
    )
    for row in rows:
        assert set(row) <= {"deviceId", "deviceName", "serialNumber", "date", "consumption"}
        if "date" in row:
            assert "2026-05-18" <= row["date"] <= "2026-05-25"
        else:
            assert row["consumption"] is None  # no-data rows carry no date
    assert any("date" not in r for r in rows)


def test_guide_devices(guide_run):
    _, outputs, sim = guide_run
    devices = _only(outputs, "/devices?limit=100")
    assert all(set(d) == {"id", "name", "meter_type"} for d in devices)
    world = sim.world.devices
    assert [d["id"] for d in devices] == list(world.index[world["organization_id"] == DEMO_ORG])
    assert DEMO_DEVICE in {d["id"] for d in devices}


def test_guide_telemetry(guide_run):
    _, outputs, _ = guide_run
    (body,) = _only(outputs, "/telemetry")
    assert body["deviceId"] == DEMO_DEVICE
    assert set(body["fields"]) == {
        "meter.value.processed",
        "meter.value.raw",
        "battery.voltage",
        "connection.rssi",
    }
    for points in body["fields"].values():
        assert points and all(set(p) == {"ts", "value"} for p in points)
        assert points[0]["ts"] >= "2026-05-18T22:00:00.000Z"
        assert points[-1]["ts"] < "2026-05-25T22:00:00.000Z"
    assert len(body["fields"]["meter.value.raw"]) == 7 * 96


def test_guide_fields(guide_run):
    _, outputs, _ = guide_run
    (groups,) = _only(outputs, "/fields")
    assert list(groups) == ["meter", "battery", "connection", "meta"]
    assert "meter.value.processed" in groups["meter"] and "connection.rssi" in groups["connection"]


def test_guide_changes(guide_run):
    _, outputs, _ = guide_run
    (body,) = _only(outputs, "/data-audit/changes")
    assert set(body) == {"data", "nextCursor"}
    assert 0 < len(body["data"]) <= 200
    first = body["data"][0]
    assert set(first) == {
        "id",
        "deviceId",
        "field",
        "timestamp",
        "previousValue",
        "newValue",
        "actor",
        "changedAt",
    }
    assert all(r["changedAt"] >= "2026-05-25T00:00:00.000Z" for r in body["data"])
