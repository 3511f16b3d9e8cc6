"""`waltero-frames doctor` against the bundled simulator, as it is and with each deviation."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import waltero_frames as wf
from waltero_frames.cli import main as cli_main
from waltero_frames.contract import PROBES
from waltero_frames.doctor import MAX_REQUESTS, diagnose
from waltero_frames.sim import DEMO_DEVICE, DEMO_ORG
from waltero_frames.sim.config import DEVIATIONS

#: deviation → (the point doctor must name, whether the toolkit handles it)
EXPECTED = {
    "part1_wrapped": ("part1_shape", False),
    "no_retry_after": ("rate_limit", True),
    "changes_cap_100": ("changes_page_cap", True),
    "cursor_renamed": ("changes_cursor", False),
    "telemetry_merged": ("telemetry_series", False),
    "devices_cursor": ("devices_paging", False),
}
#: Points the bundled simulator cannot show, with this account, read-only.
UNOBSERVABLE = {"replication_lag"}


@pytest.fixture
def tenant_env(waltero_sim, monkeypatch):
    monkeypatch.setenv("WALTERO_BASE_URL", waltero_sim.base_url)
    monkeypatch.setenv("WALTERO_USERNAME", waltero_sim.username)
    monkeypatch.setenv("WALTERO_PASSWORD", waltero_sim.password)
    return waltero_sim


def not_ok(report):
    return {p["point"] for p in report["points"] if p["status"] != "ok"} - UNOBSERVABLE


def test_every_deviation_is_expected_here():
    assert set(EXPECTED) == set(DEVIATIONS)
    assert {point for point, _ in EXPECTED.values()} <= set(PROBES)


def test_bundled_simulator_is_all_ok_read_only_and_within_budget(tenant_env, capsys):
    sim = tenant_env
    code = cli_main(["doctor", "--json"])
    out = capsys.readouterr().out
    report = json.loads(out)
    assert code == 0 and report["exit"] == 0
    assert {p["point"] for p in report["points"]} == set(PROBES)
    assert not_ok(report) == set()
    assert {p["status"] for p in report["points"] if p["point"] in UNOBSERVABLE} == {"unknown"}
    assert len(sim.log) == report["requests"] <= MAX_REQUESTS
    methods = {(r["method"], r["route"]) for r in sim.log if r["method"] != "GET"}
    assert methods == {("POST", "login")}  # the login; nothing else but reads
    orgs = {o["organization_id"]: o["devices"] for o in report["organizations"]}
    world = sim.world
    readable = world.orgs.index[world.orgs["readable"]]
    assert orgs == {org: int((world.devices["organization_id"] == org).sum()) for org in readable}
    assert report["versions"]["waltero_frames"] == wf.__version__
    assert report["latency_ms"]["median"] > 0
    assert sim.password not in out and "Bearer" not in out and "eyJ" not in out


def test_text_output_has_one_line_per_point(tenant_env, capsys):
    assert cli_main(["doctor"]) == 0
    out = capsys.readouterr().out
    for point in PROBES:
        assert sum(line.split()[1:2] == [point] for line in out.splitlines()) == 1
    assert "latency: median" in out and "versions: " in out and "48 devices" in out


@pytest.mark.parametrize("deviation", sorted(EXPECTED))
def test_doctor_names_the_deviation_and_nothing_else(waltero_sim, make_client, deviation):
    point, handled = EXPECTED[deviation]
    waltero_sim.configure(deviations=[deviation])
    report = diagnose(make_client())
    assert not_ok(report) == {point}
    (finding,) = [p for p in report["points"] if p["point"] == point]
    assert finding["status"] == "differs" and finding["handled"] is handled
    assert finding["assumed"] and finding["observed"] and finding["handling"]
    assert report["exit"] == (0 if handled else 1)
    assert len(waltero_sim.log) <= MAX_REQUESTS


DAY = ("2026-11-01", "2026-11-02")


@pytest.mark.parametrize(
    ("deviation", "call", "says"),
    [
        ("part1_wrapped", lambda c: wf.daily_consumption(c, DEMO_ORG, *DAY), "bare JSON array"),
        ("cursor_renamed", lambda c: wf.changes(c, DEMO_ORG, "2000-01-01"), "nextCursor"),
        ("telemetry_merged", lambda c: wf.telemetry(c, DEMO_DEVICE, *DAY), "one series per"),
        ("devices_cursor", lambda c: wf.devices(c, DEMO_ORG), "offset paging"),
    ],
)
def test_unhandled_deviations_raise_naming_the_assumption(sim, make_client, deviation, call, says):
    sim.configure(deviations=[deviation])
    with pytest.raises(wf.WalteroError) as info:
        call(make_client())
    err = info.value
    causes = [err, *getattr(err, "failures", {}).values()]
    assert any(isinstance(e, wf.UnexpectedResponse) and says in str(e) for e in causes)


def test_a_changes_page_cap_of_100_loses_nothing(sim, make_client):
    expected = wf.changes(make_client(), DEMO_ORG, "2000-01-01")
    sim.configure(deviations=["changes_cap_100"])
    got = wf.changes(make_client(), DEMO_ORG, "2000-01-01")
    assert len(got) == len(expected) > 200
    pd.testing.assert_frame_equal(got.reset_index(), expected.reset_index())


def test_429_without_retry_after_is_recovered(waltero_sim, make_client):
    devices = wf.devices(make_client(), DEMO_ORG).index[:6]
    expected = wf.telemetry(make_client(), devices, *DAY)
    waltero_sim.configure(rate=4, burst=2, deviations=["no_retry_after"])
    got = wf.telemetry(make_client(), devices, *DAY)
    assert any(r["status"] == 429 for r in waltero_sim.log)
    pd.testing.assert_frame_equal(got, expected, check_like=True)


def test_unknown_deviation_is_refused_naming_the_known_ones(waltero_sim):
    with pytest.raises(ValueError, match="unknown deviation.*part1_wrapped"):
        waltero_sim.configure(deviations=["nope"])


def test_unreachable_tenant_exits_2_without_secrets(monkeypatch, capsys):
    monkeypatch.setenv("WALTERO_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("WALTERO_USERNAME", "someone")
    monkeypatch.setenv("WALTERO_PASSWORD", "a-secret-password")
    assert cli_main(["doctor"]) == 2
    err = capsys.readouterr().err
    assert "waltero-frames doctor:" in err and "a-secret-password" not in err
