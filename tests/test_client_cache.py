"""The requests-cache layer over real HTTP: replay equality, offline, keys, secrets on disk."""

from __future__ import annotations

import gc
import os
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
from requests_cache import EXPIRE_IMMEDIATELY, CachedSession

import waltero_frames as wf
from waltero_frames.sim import DEMO_ORG

RANGE = ("2026-04-25", "2026-06-05")  # 41 days: two telemetry windows


def study(client):
    """A small notebook study: every cacheable fetch once."""
    orgs = wf.organizations(client)
    devs = wf.devices(client, DEMO_ORG, details=True)
    return {
        "orgs": orgs,
        "devs": devs,
        "daily": wf.daily_consumption(client, DEMO_ORG, *RANGE, tz="Europe/Berlin"),
        "weekly": wf.daily_consumption(client, DEMO_ORG, *RANGE, "week"),
        "tel": wf.telemetry(client, devs.iloc[:4], *RANGE, tz="Europe/Berlin"),
        "tel_raw_only": wf.telemetry(client, list(devs.index[4:6]), *RANGE, ["meter.value.raw"]),
        "fields": wf.fields(client, devs.index[:2]),
    }


@pytest.fixture
def live(waltero_sim, tmp_path):
    waltero_sim.config.rate = None
    path = tmp_path / "study.sqlite"
    client = wf.Client(waltero_sim.base_url, waltero_sim.username, waltero_sim.password, cache=path)
    frames = study(client)
    token = client._tokens._current[0].reveal()
    client.close()
    return path, frames, token


def test_offline_replay_is_equal_with_zero_requests(waltero_sim, live, monkeypatch):
    path, frames, _ = live
    for var in ("WALTERO_USERNAME", "WALTERO_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    before = len(waltero_sim.log)
    offline = wf.Client(waltero_sim.base_url, cache=path, offline=True)  # no credentials
    replay = study(offline)
    assert len(waltero_sim.log) == before  # not one request, not even a login
    assert offline.logins == 0 and offline.requests_sent == 0
    for name, df in frames.items():
        pd.testing.assert_frame_equal(replay[name], df, obj=name)
    assert replay["daily"].attrs["missing_periods"].equals(frames["daily"].attrs["missing_periods"])
    assert replay["tel"].attrs["offline"] is True and frames["tel"].attrs["offline"] is False


def test_offline_fetches_run_in_the_callers_thread(waltero_sim, live):
    """Offline answers are local reads: no thread pool (threads only contend for the GIL)."""
    import threading

    path, frames, _ = live
    seen: set[str] = set()
    with wf.Client(waltero_sim.base_url, cache=path, offline=True) as offline:
        offline._session.hooks["response"].append(
            lambda r, *a, **k: seen.add(threading.current_thread().name)
        )
        tel = wf.telemetry(offline, frames["devs"].iloc[:4], *RANGE, tz="Europe/Berlin")
    pd.testing.assert_frame_equal(tel, frames["tel"])
    assert seen == {threading.current_thread().name}


def test_offline_miss_names_the_call(waltero_sim, live):
    path, frames, _ = live
    offline = wf.Client(waltero_sim.base_url, cache=path, offline=True)
    dev = frames["devs"].index[0]
    with pytest.raises(wf.CacheMiss) as info:
        wf.telemetry(offline, dev, "2026-04-25", "2026-06-06")
    message = str(info.value)
    assert f"/api/devices/{dev}/telemetry" in message
    assert "startDate=2026-04-25T00:00:00.000Z" in message  # the UTC window was never fetched
    # several devices missing: still the CacheMiss itself, not a per-device failure
    with pytest.raises(wf.CacheMiss):
        wf.telemetry(offline, frames["devs"].index[:3], "2026-01-01", "2026-01-02")
    # the changelog is never cached
    with pytest.raises(wf.CacheMiss, match="data-audit/changes"):
        wf.changes(offline, DEMO_ORG, "2026-05-01")


def test_offline_needs_a_cache(waltero_sim, tmp_path):
    with pytest.raises(ValueError, match="needs a cache"):
        wf.Client(waltero_sim.base_url, offline=True)
    with pytest.raises(ValueError, match="does not exist"):
        wf.Client(waltero_sim.base_url, cache=tmp_path / "none.sqlite", offline=True)


def test_no_secret_in_the_cache_files(live, waltero_sim):
    path, _, token = live
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    assert files and any(p.stat().st_size > 100_000 for p in files)
    secrets = [
        token.encode(),
        token.split(".")[2].encode(),
        waltero_sim.password.encode(),
        b"Bearer",
    ]
    for p in files:
        data = p.read_bytes()
        for secret in secrets:
            assert secret not in data, (p.name, secret[:8])


def test_login_and_changelog_never_cached(live, waltero_sim):
    path, _, _ = live
    client = wf.Client(waltero_sim.base_url, waltero_sim.username, waltero_sim.password, cache=path)
    wf.changes(client, DEMO_ORG, "2026-11-01")
    wf.changes(client, DEMO_ORG, "2026-11-01")
    assert waltero_sim.counters[("changes", 200)] >= 2  # asked twice, sent twice
    con = sqlite3.connect(path)
    urls = [
        row[0]
        for row in con.execute(
            "select key from responses"
        )  # keys are hashes: check via the session
    ]
    con.close()
    session = CachedSession(str(path), backend="sqlite")
    cached = [r.url for r in session.cache.responses.values()]
    session.close()
    assert len(cached) == len(urls) > 0
    assert not [u for u in cached if "login" in u or "data-audit" in u]
    assert any("/v3/data/device-daily-consumption" in u for u in cached)


def test_cache_key_ignores_the_token(live, waltero_sim):
    path, frames, _ = live
    waltero_sim.config.rate = None
    before = len(waltero_sim.log)
    # a new client (it would get a new token) reads the same entries: no request, no login
    again = wf.Client(waltero_sim.base_url, waltero_sim.username, waltero_sim.password, cache=path)
    replay = study(again)
    assert len(waltero_sim.log) == before and again.logins == 0
    pd.testing.assert_frame_equal(replay["tel"], frames["tel"])
    # and a fresh call logs in once and is then served from the cache too
    wf.telemetry(again, frames["devs"].index[0], "2026-07-01", "2026-07-02")
    assert again.logins == 1 and again.requests_sent == 1  # the device detail was cached
    wf.telemetry(again, frames["devs"].index[0], "2026-07-01", "2026-07-02")
    assert again.requests_sent == 1


def test_user_session_is_accepted_and_extended(waltero_sim, tmp_path):
    waltero_sim.config.rate = None
    session = CachedSession(
        str(tmp_path / "mine.sqlite"), backend="sqlite", ignored_parameters=["foo"]
    )
    client = wf.Client(
        waltero_sim.base_url, waltero_sim.username, waltero_sim.password, cache=session
    )
    wf.changes(client, DEMO_ORG, "2026-11-20")
    wf.organizations(client)
    params = set(session.settings.ignored_parameters)
    assert {"foo", "Authorization", "authorization"} <= params  # extended, not replaced
    assert not [u for u in (r.url for r in session.cache.responses.values()) if "data-audit" in u]
    client.close()
    wf.organizations(client)  # the user's session was not closed by us
    session.close()


def test_accept_encoding_is_fixed(live, waltero_sim):
    path, _, _ = live
    session = CachedSession(str(path), backend="sqlite")
    encodings = {r.request.headers.get("Accept-Encoding") for r in session.cache.responses.values()}
    session.close()
    assert encodings == {"gzip, deflate"}


def test_expiry_most_specific_pattern_first(live):
    path, _, _ = live
    session = CachedSession(str(path), backend="sqlite")
    by_kind = {}
    for r in session.cache.responses.values():
        ttl = (r.expires - r.created_at).total_seconds() if r.expires else None
        kind = (
            "telemetry"
            if "/telemetry" in r.url
            else "fields"
            if r.url.endswith("/fields")
            else "device"
            if "/api/devices/" in r.url
            else "list"
            if "/devices" in r.url
            else "daily"
            if "daily-consumption" in r.url
            else "me"
        )
        by_kind.setdefault(kind, set()).add(round(ttl / 3600) if ttl else None)
    session.close()
    # telemetry is under */api/devices/* too: its own (first) pattern must win
    assert by_kind == {
        "telemetry": {24},
        "device": {24},
        "fields": {1},
        "list": {1},
        "daily": {24},
        "me": {1},
    }


def test_live_path_never_serves_stale_on_error(live, waltero_sim):
    path, frames, _ = live
    session = CachedSession(str(path), backend="sqlite")
    session.cache.reset_expiration(EXPIRE_IMMEDIATELY)  # everything expired
    session.close()
    waltero_sim.config.update(rate=None, fail=[{"status": 500, "path": "telemetry"}])
    client = wf.Client(waltero_sim.base_url, waltero_sim.username, waltero_sim.password, cache=path)
    with pytest.raises(wf.errors.FetchFailed) as info:
        wf.telemetry(client, frames["devs"].iloc[:4], *RANGE, tz="Europe/Berlin")
    assert len(info.value.failures) == 4 and info.value.partial.empty  # no stale 200s
    assert all(isinstance(e, wf.ServerError) for e in info.value.failures.values())
    # offline, an expired entry is still the study's replay
    offline = wf.Client(waltero_sim.base_url, cache=path, offline=True)
    replay = wf.telemetry(offline, frames["devs"].iloc[:4], *RANGE, tz="Europe/Berlin")
    pd.testing.assert_frame_equal(replay, frames["tel"])


def test_a_cache_file_serves_one_principal(live, waltero_sim):
    path, _, _ = live
    with pytest.raises(ValueError, match="one cache file per tenant and user"):
        wf.Client(waltero_sim.base_url, "someone-else@example.com", "pw", cache=path)
    # the same user (on any tenant: keys hold the URL) and offline clients may reopen it
    wf.Client(waltero_sim.base_url, waltero_sim.username, waltero_sim.password, cache=path)
    wf.Client("http://127.0.0.1:1/other", waltero_sim.username, "pw", cache=path)
    wf.Client(waltero_sim.base_url, cache=path, offline=True)


def replay_daily(base_url, path):
    """What an offline notebook does: open the study, read a frame, close."""
    with wf.Client(base_url, cache=path, offline=True) as offline:
        return wf.daily_consumption(offline, DEMO_ORG, *RANGE, tz="Europe/Berlin")


def sidecars(path):
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


def test_offline_replay_does_not_write_into_the_cache_file(waltero_sim, tmp_path):
    """The flaky failure made deterministic: the user check's connection was closed only by
    the cyclic GC; when that came after the replay had started, the last close checkpointed
    the WAL (here: the DROP) into the file under the replay. Bytes, mtime, no sidecars."""
    waltero_sim.config.rate = None
    path = tmp_path / "study.sqlite"
    gc.disable()
    try:
        with wf.Client(
            waltero_sim.base_url, waltero_sim.username, waltero_sim.password, cache=path
        ) as live:
            recorded = wf.daily_consumption(live, DEMO_ORG, *RANGE, tz="Europe/Berlin")
        with closing(sqlite3.connect(path)) as con, con:
            con.execute("DROP TABLE waltero_principal")  # a study from before that table
        before = path.read_bytes(), path.stat().st_mtime_ns, sidecars(path)
        pd.testing.assert_frame_equal(replay_daily(waltero_sim.base_url, path), recorded)
        gc.collect()  # whatever was left open closes now
    finally:
        gc.enable()
    assert (
        (path.read_bytes(), path.stat().st_mtime_ns, sidecars(path))
        == before
        == (
            before[0],
            before[1],
            [],
        )
    )


REPLAY_SCRIPT = """
import sys, waltero_frames as wf
from waltero_frames.sim import DEMO_ORG
for _ in range(int(sys.argv[3])):
    with wf.Client(sys.argv[1], cache=sys.argv[2], offline=True) as c:
        daily = wf.daily_consumption(c, DEMO_ORG, "2026-04-25", "2026-06-05", tz="Europe/Berlin")
print(round(float(daily["consumption"].sum()), 6))
"""


def test_concurrent_offline_replays_never_touch_the_file(waltero_sim, live):
    """Threads of this process and another process replay the study at once: the file's
    bytes and mtime stay as they were and no -wal/-shm/-journal file appears, ever."""
    path, frames, _ = live
    before = path.read_bytes(), path.stat().st_mtime_ns
    assert sidecars(path) == []
    other = subprocess.Popen(
        [sys.executable, "-c", REPLAY_SCRIPT, waltero_sim.base_url, str(path), "5"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(wf.__file__).parents[1])},
    )
    seen = set()
    shared = wf.Client(waltero_sim.base_url, cache=path, offline=True)
    with shared, ThreadPoolExecutor(8) as pool:
        jobs = [pool.submit(study, shared) for _ in range(4)]
        jobs += [pool.submit(replay_daily, waltero_sim.base_url, path) for _ in range(8)]
        while not all(job.done() for job in jobs):
            seen.update(sidecars(path))
        results = [job.result() for job in jobs]
    out, _ = other.communicate(timeout=120)
    assert other.returncode == 0
    for replay in results[:4]:
        for name, df in frames.items():
            pd.testing.assert_frame_equal(replay[name], df, obj=name)
    for daily in results[4:]:
        pd.testing.assert_frame_equal(daily, frames["daily"])
    assert float(out) == round(float(frames["daily"]["consumption"].sum()), 6)
    assert seen == set() and sidecars(path) == []
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_offline_replay_beside_a_writer_reads_its_commits_and_never_checkpoints(waltero_sim, live):
    """While a live client still holds the file (its -wal beside it), a replay reads what
    it committed and leaves the checkpoint to it."""
    path, frames, _ = live
    dev = frames["devs"].index[0]
    writer = wf.Client(waltero_sim.base_url, waltero_sim.username, waltero_sim.password, cache=path)
    fresh = wf.telemetry(writer, dev, "2026-07-01", "2026-07-03")  # committed to the WAL
    assert "study.sqlite-wal" in sidecars(path)
    before = path.read_bytes(), path.stat().st_mtime_ns
    with wf.Client(waltero_sim.base_url, cache=path, offline=True) as offline:
        pd.testing.assert_frame_equal(wf.telemetry(offline, dev, "2026-07-01", "2026-07-03"), fresh)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    writer.close()  # the writer's own close checkpoints
    offline = wf.Client(waltero_sim.base_url, cache=path, offline=True)
    assert not wf.telemetry(offline, dev, "2026-07-01", "2026-07-03").empty
    offline.close()


def test_offline_client_that_knows_its_user_checks_without_writing(waltero_sim, live):
    path, _, _ = live
    before = path.read_bytes()
    with pytest.raises(ValueError, match="one cache file per tenant and user"):
        wf.Client(waltero_sim.base_url, "someone-else@example.com", cache=path, offline=True)
    with wf.Client(waltero_sim.base_url, waltero_sim.username, cache=path, offline=True) as c:
        wf.organizations(c)
    assert path.read_bytes() == before
    bogus = path.with_name("other.sqlite")
    with closing(sqlite3.connect(bogus)) as con, con:
        con.execute("CREATE TABLE t (x)")
    with pytest.raises(ValueError, match="not a requests-cache file"):
        wf.Client(waltero_sim.base_url, cache=bogus, offline=True)
