"""Faults over real HTTP: 429 storms, expiring tokens, 500s, dropped connections, 4xx."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

import waltero_frames as wf
from waltero_frames.sim import DEMO_ORG
from waltero_frames.transport.auth import TokenStore, jwt_expiry
from waltero_frames.transport.retry import RetryPolicy

DAY = ("2026-06-01T00:00Z", "2026-06-02T00:00Z")


def demo_ids(sim, n):
    world = sim.world
    return list(world.devices[world.devices.organization_id == DEMO_ORG].index[:n])


def test_429_storm_at_2_per_second_finishes_40_devices(waltero_sim, make_client):
    waltero_sim.config.rate = None
    client = make_client()
    devs = wf.devices(client, DEMO_ORG, details=True).iloc[:40]
    waltero_sim.config.update(rate=2.0)  # default burst 20
    t0 = time.monotonic()
    df = wf.telemetry(client, devs, *DAY)
    elapsed = time.monotonic() - t0
    assert sorted(df["device_id"].unique()) == sorted(devs.index)
    truth = waltero_sim.world.telemetry_truth(list(devs.index), *DAY)
    pd.testing.assert_frame_equal(df, truth)
    throttled = waltero_sim.counters[("telemetry", 429)]
    # the pacer learned the limit: far fewer 429s than requests, and no request gave up
    assert waltero_sim.counters[("telemetry", 200)] == 40
    assert throttled < 20, throttled
    print(f"429s: {throttled}, elapsed {elapsed:.1f}s, learned rate {client.limiter.rate:.2f}")
    assert elapsed >= (40 - 20) / 2.0 * 0.9  # it really was held to ~2 req/s after the burst
    assert client.limiter.rate is not None and client.limiter.rate < 4


def test_429_without_retry_after_uses_jittered_backoff(waltero_sim, make_client):
    waltero_sim.config.update(rate=None)
    client = make_client()
    devs = wf.devices(client, DEMO_ORG, details=True).iloc[:20]
    waltero_sim.config.update(rate=8.0, burst=2, retry_after_header=False)
    df = wf.telemetry(client, devs, *DAY)
    assert df["device_id"].nunique() == 20
    assert waltero_sim.counters[("telemetry", 429)] > 0  # it was throttled and recovered


def test_persistent_429_gives_up_with_rate_limited(waltero_sim, make_client):
    waltero_sim.config.update(rate=0.01, burst=1, retry_after_header=False)
    policy = RetryPolicy(rate_limit_attempts=3, backoff_base=0.01, backoff_cap=0.02)
    client = make_client(retry=policy)
    client.me()  # takes the only token of the bucket
    with pytest.raises(wf.RateLimited) as info:
        client.me()
    assert info.value.status == 429 and info.value.code == "RATE_LIMITED"
    assert waltero_sim.counters[("me", 429)] == 3  # bounded attempts


def test_expiring_token_mid_fetch_causes_exactly_one_relogin(waltero_sim, make_client):
    waltero_sim.config.update(rate=None, token_ttl=3.0, latency=0.02)
    client = make_client(max_workers=12)
    ids = demo_ids(waltero_sim, 24)
    devs = wf.devices(client, DEMO_ORG, details=True).loc[ids]  # logs in (1)
    # the client believes its token lives on; the server says 401 once it expired
    client._tokens._clock = lambda: time.time() - 3600
    exp = jwt_expiry(client._tokens._current[0].reveal())
    # the server's JWT exp is wall-clock time (no simulated clock on that path): wait it out
    time.sleep(max(0.0, exp - time.time()) + 0.1)  # the server now refuses the token
    # 48 small requests (battery only: the fetch must end within the new token's 3 s)
    df = wf.telemetry(client, devs, "2026-05-01T00:00Z", "2026-06-15T00:00Z", ["battery.voltage"])
    assert client.logins == 2
    assert waltero_sim.counters[("login", 200)] == 2
    assert waltero_sim.counters[("telemetry", 401)] >= 1
    assert waltero_sim.counters[("telemetry", 200)] == 48
    truth = waltero_sim.world.telemetry_truth(
        ids, "2026-05-01T00:00Z", "2026-06-15T00:00Z", ["battery.voltage"]
    )
    pd.testing.assert_frame_equal(df, truth)


def test_token_refreshed_before_exp_without_a_401(waltero_sim, make_client):
    waltero_sim.config.update(rate=None, token_ttl=1.0)
    client = make_client()
    client.me()
    # drive the client's clock past exp (whole seconds, rounded up) instead of sleeping:
    # the JWT says the token is over, so it logs in first instead of meeting a 401
    client._tokens._clock = lambda: time.time() + 2.05
    client.me()
    assert client.logins == 2
    assert waltero_sim.counters[("me", 401)] == 0


def test_one_login_for_a_notebook_workflow(waltero_sim, make_client):
    client = make_client()
    client.me()
    orgs = wf.organizations(client)
    devs = wf.devices(client, orgs.index[0], details=True)
    wf.daily_consumption(client, DEMO_ORG, "2026-05-01", "2026-06-01", tz="Europe/Berlin")
    wf.telemetry(client, devs.iloc[:6], "2026-05-01", "2026-06-10")
    wf.fields(client, devs.index[:3])
    wf.changes(client, DEMO_ORG, "2026-05-01")
    assert client.logins == 1
    assert waltero_sim.counters[("login", 200)] == 1
    assert sum(n for (route, status), n in waltero_sim.counters.items() if status == 401) == 0


def test_a_dozen_threads_at_expiry_log_in_once():
    calls = []
    gate = threading.Barrier(12)

    def login():
        calls.append(1)
        time.sleep(0.05)  # a slow login the other threads must queue behind (no clock here)
        return f"token-{len(calls)}"

    store = TokenStore(login)
    token, gen = store.get()
    seen = []

    def worker():
        gate.wait()
        store.invalidate(gen)  # every thread got a 401 with the same token
        seen.append(store.get())

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 2 and store.logins == 2
    assert {s for s in seen} == {("token-2", gen + 1)}


def test_token_store_refreshes_near_exp():
    import base64
    import json

    now = [1_000_000.0]

    def jwt(exp):
        body = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).rstrip(b"=").decode()
        return f"h.{body}.s"

    issued = []

    def login():
        issued.append(now[0])
        return jwt(now[0] + 1000)

    store = TokenStore(login, clock=lambda: now[0])
    store.get()
    now[0] += 939  # refresh at exp − min(60 s, 10 % of the lifetime) = +940
    store.get()
    assert store.logins == 1
    now[0] += 2
    store.get()
    assert store.logins == 2


@pytest.mark.parametrize(("times", "ok"), [(1, True), (2, False)])
def test_500_once_is_retried_twice_raises(waltero_sim, times, ok, make_client):
    waltero_sim.config.update(
        rate=None, fail=[{"status": 500, "path": "telemetry", "times": times}]
    )
    client = make_client()
    dev = demo_ids(waltero_sim, 1)[0]
    if ok:
        df = wf.telemetry(client, dev, *DAY)
        pd.testing.assert_frame_equal(df, waltero_sim.world.telemetry_truth([dev], *DAY))
    else:
        with pytest.raises(wf.ServerError) as info:
            wf.telemetry(client, dev, *DAY)
        assert info.value.status == 500 and dev in info.value.url
    assert waltero_sim.counters[("telemetry", 500)] == times
    assert waltero_sim.counters[("telemetry", 200)] == (1 if ok else 0)


@pytest.mark.parametrize(("times", "ok"), [(1, True), (2, False)])
def test_dropped_connection_is_retried_like_500(waltero_sim, times, ok, make_client):
    waltero_sim.config.update(
        rate=None, fail=[{"status": "drop", "path": "auth/me", "times": times}]
    )
    client = make_client()
    if ok:
        assert client.me()["user"]["email"] == waltero_sim.username
    else:
        with pytest.raises(wf.ServerError, match="connection"):
            client.me()


def test_other_4xx_are_never_retried(waltero_sim, make_client):
    waltero_sim.config.update(rate=None)
    client = make_client()
    unknown = "99999999-9999-9999-9999-999999999999"
    with pytest.raises(wf.NotFound) as info:
        wf.fields(client, unknown)
    assert info.value.status == 404 and info.value.code == "NOT_FOUND"
    hidden = waltero_sim.world.orgs[~waltero_sim.world.orgs.readable].index[0]
    with pytest.raises(wf.Forbidden):
        wf.devices(client, hidden)
    with pytest.raises(wf.BadRequest, match="field"):
        wf.telemetry(client, demo_ids(waltero_sim, 1), *DAY, fields=["meter.value.nope"])
    statuses = [(r["path"], r["status"]) for r in waltero_sim.log if r["status"] in (400, 403, 404)]
    assert len(statuses) == 3, statuses  # each refused once, never retried


def test_wrong_password_is_unauthenticated_without_secret(waltero_sim):
    client = wf.Client(waltero_sim.base_url, waltero_sim.username, "hunter2-wrong", progress=False)
    with pytest.raises(wf.Unauthenticated) as info:
        client.me()
    assert "hunter2-wrong" not in str(info.value) and "hunter2-wrong" not in repr(info.value)
    assert waltero_sim.counters[("login", 401)] == 1  # not retried


def test_failing_devices_do_not_lose_the_others(waltero_sim, make_client):
    waltero_sim.config.update(rate=None)
    ids = demo_ids(waltero_sim, 6)
    bad = [ids[2], ids[4]]
    waltero_sim.config.update(
        fail=[
            {"status": 500, "path": f"{bad[0]}/telemetry"},  # forever
            {"status": 500, "path": f"devices/{bad[1]}$"},  # its detail call
        ]
    )
    client = make_client()
    with pytest.raises(wf.FetchFailed) as info:
        wf.telemetry(client, ids, "2026-05-01", "2026-06-15")  # two windows per device
    err = info.value
    assert sorted(err.failures) == sorted(bad)
    assert all(d in str(err) for d in bad) and "2 of 6 devices failed" in str(err)
    assert all(isinstance(e, wf.ServerError) for e in err.failures.values())
    good = [d for d in ids if d not in bad]
    truth = waltero_sim.world.telemetry_truth(good, "2026-05-01", "2026-06-15")
    pd.testing.assert_frame_equal(err.partial, truth)  # every other device completed
    assert waltero_sim.counters[("telemetry", 200)] >= 2 * len(good)  # and ran to the end

    with pytest.warns(RuntimeWarning, match="2 of 6 devices failed"):
        df = wf.telemetry(client, ids, "2026-05-01", "2026-06-15", errors="warn")
    pd.testing.assert_frame_equal(df, truth)
    assert sorted(df.attrs["failures"]) == sorted(bad)
    assert all("ServerError" in m for m in df.attrs["failures"].values())


def test_pool_is_bounded_by_max_workers(waltero_sim, make_client):
    waltero_sim.config.update(rate=None, latency=0.15)
    client = make_client(max_workers=3)
    ids = demo_ids(waltero_sim, 9)
    t0 = time.monotonic()
    wf.fields(client, ids)
    elapsed = time.monotonic() - t0
    assert elapsed >= 3 * 0.15 * 0.95  # 9 requests, 3 at a time, after the login
    rows = [r for r in waltero_sim.log if r.get("route") == "fields"]
    assert len(rows) == 9
    # server-side in-flight intervals [arrival, arrival + duration]: never more than 3 overlap
    events = sorted(
        [(r["t"], 1) for r in rows] + [(r["t"] + r["ms"] / 1000, -1) for r in rows],
        key=lambda e: (e[0], e[1]),
    )
    in_flight = peak = 0
    for _, step in events:
        in_flight += step
        peak = max(peak, in_flight)
    assert peak == 3
