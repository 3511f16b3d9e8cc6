"""Bad input fails before any request; base URLs, env settings, plain-http refusal, v3 pinning."""

from __future__ import annotations

import pandas as pd
import pytest

import waltero_frames as wf
from waltero_frames.sim import DEMO_ORG

DEV = "11111111-1111-1111-1111-111111111101"
OK = ("2026-06-01", "2026-06-02")


BAD_CALLS = [
    # dates
    (
        "daily garbage start",
        lambda c: wf.daily_consumption(c, DEMO_ORG, "yesterday-ish", OK[1]),
        "yesterday-ish",
    ),
    (
        "daily end before start",
        lambda c: wf.daily_consumption(c, DEMO_ORG, OK[1], OK[0]),
        "must be after",
    ),
    ("daily equal", lambda c: wf.daily_consumption(c, DEMO_ORG, OK[0], OK[0]), "must be after"),
    ("telemetry number", lambda c: wf.telemetry(c, DEV, 1717200000, OK[1]), "1717200000"),
    ("changes until<=since", lambda c: wf.changes(c, DEMO_ORG, OK[1], OK[0]), "until="),
    ("changes bad since", lambda c: wf.changes(c, DEMO_ORG, "32/13/2026"), "32/13/2026"),
    # DST-ambiguous local time
    (
        "ambiguous",
        lambda c: wf.telemetry(c, DEV, "2026-10-25 02:30", OK[1], tz="Europe/Berlin"),
        "02:30",
    ),
    # resolution, tz
    ("resolution", lambda c: wf.daily_consumption(c, DEMO_ORG, *OK, "hour"), "'hour'"),
    ("resolution case", lambda c: wf.daily_consumption(c, DEMO_ORG, *OK, "Day"), "'Day'"),
    ("tz", lambda c: wf.daily_consumption(c, DEMO_ORG, *OK, tz="Europe/Berln"), "Europe/Berln"),
    ("tz telemetry", lambda c: wf.telemetry(c, DEV, *OK, tz="CEST+2"), "CEST+2"),
    # ids that are not UUIDs: nothing like ../ or ? may reach a path
    ("org traversal", lambda c: wf.devices(c, "../../api/auth/me"), "../../api/auth/me"),
    ("org query", lambda c: wf.daily_consumption(c, DEMO_ORG + "?x=1", *OK), "?x=1"),
    ("device traversal", lambda c: wf.telemetry(c, "../" + DEV, *OK), "../"),
    ("device in list", lambda c: wf.telemetry(c, [DEV, "abc"], *OK), "'abc'"),
    ("device slash", lambda c: wf.fields(c, DEV[:-1] + "/"), "/"),
    ("device none", lambda c: wf.telemetry(c, None, *OK), "None"),
    ("device int", lambda c: wf.fields(c, [12]), "12"),
    ("changes org", lambda c: wf.changes(c, "demo", OK[0]), "'demo'"),
    (
        "device frame index",
        lambda c: wf.telemetry(c, pd.DataFrame(index=["x/../y"]), *OK),
        "x/../y",
    ),
    # fields and options
    ("field comma", lambda c: wf.telemetry(c, DEV, *OK, fields=["a,b"]), "'a,b'"),
    ("fields empty", lambda c: wf.telemetry(c, DEV, *OK, fields=[]), "fields=[]"),
    ("field type", lambda c: wf.telemetry(c, DEV, *OK, fields=[3]), "3"),
    ("errors option", lambda c: wf.telemetry(c, DEV, *OK, errors="ignore"), "'ignore'"),
    ("client type", lambda c: wf.organizations("http://127.0.0.1"), "Client"),
]


@pytest.mark.parametrize(("label", "call", "named"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_input_raises_before_any_request(client, waltero_sim, label, call, named):
    with pytest.raises(ValueError) as info:
        call(client)
    assert named in str(info.value)
    assert waltero_sim.log == [] and client.logins == 0


def test_naive_and_aware_bounds_reach_the_api_in_utc(client, waltero_sim):
    waltero_sim.config.rate = None
    wf.daily_consumption(client, DEMO_ORG, "2026-06-01", "2026-06-02", tz="Europe/Berlin")
    wf.telemetry(
        client, DEV, pd.Timestamp("2026-06-01 00:00", tz="Asia/Tokyo"), "2026-06-01T00:00Z"
    )
    queries = [
        r["query"]
        for r in waltero_sim.log
        if r.get("route") in ("daily_consumption_v3", "telemetry")
    ]
    bounds = {(q["startDate"], q["endDate"]) for q in queries}
    assert ("2026-05-31T22:00:00.000Z", "2026-06-01T22:00:00.000Z") in bounds
    assert ("2026-05-31T15:00:00.000Z", "2026-06-01T00:00:00.000Z") in bounds


def test_only_v3_is_ever_called(client, waltero_sim):
    waltero_sim.config.rate = None
    for resolution in ("day", "week", "month", "year"):
        wf.daily_consumption(client, DEMO_ORG, "2026-01-01", "2026-03-01", resolution)
    paths = [r["path"] for r in waltero_sim.log if "metering" in r["path"]]
    assert len(paths) == 4
    assert all("/applications/metering/v3/data/device-daily-consumption" in p for p in paths)
    assert not [k for k in waltero_sim.counters if k[0] == "daily_consumption_default"]


@pytest.mark.parametrize("suffix", ["", "/"])
def test_base_url_with_a_path_and_trailing_slash(waltero_sim, suffix):
    waltero_sim.config.update(prefix="/prod", rate=None)
    root = waltero_sim.base_url.rstrip("/")
    if not root.endswith("/prod"):
        root += "/prod"
    client = wf.Client(root + suffix, waltero_sim.username, waltero_sim.password)
    assert client.base_url == root
    orgs = wf.organizations(client)
    assert DEMO_ORG in orgs.index
    assert all(
        r["path"].startswith("/prod/api/") or r["path"].startswith("/api/") for r in waltero_sim.log
    )


def test_settings_from_environment(waltero_sim, monkeypatch):
    monkeypatch.setenv("WALTERO_BASE_URL", waltero_sim.base_url + "/")
    monkeypatch.setenv("WALTERO_USERNAME", waltero_sim.username)
    monkeypatch.setenv("WALTERO_PASSWORD", waltero_sim.password)
    client = wf.Client()
    assert client.base_url == waltero_sim.base_url
    assert client.me()["user"]["email"] == waltero_sim.username


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:9", True),
        ("http://127.3.4.5:9/prod", True),
        ("http://localhost:9", True),
        ("http://[::1]:9", True),
        ("https://api.example.com/prod", True),
        ("http://api.example.com/prod", False),
        ("http://10.0.0.7:8080", False),
        ("http://128.0.0.1", False),
    ],
)
def test_credentials_only_over_https_or_loopback(url, ok):
    if ok:
        assert wf.Client(url, "someone", "a-password-1").base_url == url
    else:
        with pytest.raises(ValueError, match="plain http") as info:
            wf.Client(url, "u", "secret-pw")
        assert "secret-pw" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"base_url": None}, "base URL"),
        ({"base_url": "ftp://h/x"}, "ftp://h/x"),
        ({"base_url": "https://user:pw@h/x"}, "credentials"),
        ({"base_url": "https://h/x?token=1"}, "query"),
        ({"username": None}, "no credentials"),
        ({"max_workers": 0}, "max_workers=0"),
        ({"timeout": -1}, "timeout=-1"),
        ({"cache": 42}, "cache=42"),
    ],
)
def test_bad_client_settings(monkeypatch, kwargs, named):
    for var in ("WALTERO_BASE_URL", "WALTERO_USERNAME", "WALTERO_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    args = {"base_url": "https://h.example/prod", "username": "u", "password": "p", **kwargs}
    with pytest.raises(ValueError) as info:
        wf.Client(**args)
    assert named in str(info.value)
