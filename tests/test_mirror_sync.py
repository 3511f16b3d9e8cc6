"""Mirror.sync against the simulator over real HTTP, checked against the World's ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import waltero_frames as wf
from waltero_frames.mirror import SyncError, changelog
from waltero_frames.sim import DEMO_ORG

RAW = "meter.value.raw"
PROC = "meter.value.processed"


# ----------------------------------------------------------------------------- helpers


def org_devices(sim, org=DEMO_ORG):
    devs = sim.world.devices
    return devs[devs["organization_id"] == org]


def truth(sim, start, end, org=DEMO_ORG, devices=None):
    devs = org_devices(sim, org)
    devs = devs if devices is None else devs.loc[list(devices)]
    fields = sorted({f for fs in devs["fields"] for f in fs})
    return sim.world.telemetry_truth(list(devs.index), start, end, fields=fields)


def assert_equals_truth(mirror, sim, start, end, org=DEMO_ORG, devices=None):
    """Every reading, field and device of [start, end) equals the World, no extra rows."""
    got = mirror.readings(org, start, end, devices=devices)
    exp = truth(sim, start, end, org, devices)
    exp = exp.dropna(axis=1, how="all") if devices is not None else exp
    got = got.dropna(axis=1, how="all") if devices is not None else got
    assert sorted(got.columns) == sorted(exp.columns)
    exp = exp[got.columns]
    assert got.index.equals(exp.index)
    assert (got["device_id"].to_numpy() == exp["device_id"].to_numpy()).all()
    for col in got.columns.drop("device_id"):
        a, b = got[col], exp[col]
        if a.dtype.kind == "f":
            np.testing.assert_allclose(
                a.to_numpy(), b.to_numpy(dtype=float), rtol=1e-12, err_msg=col
            )
        else:
            assert a.fillna("<NA>").tolist() == b.fillna("<NA>").astype(str).tolist(), col
    # no duplicate or extra stored rows: one stored reading per non-null truth cell
    cells = int(exp.drop(columns=["device_id", "value"]).notna().sum().sum())
    lo, hi = (int(pd.Timestamp(t).value // 1_000_000) for t in (start, end))
    org_code = mirror.store.org_code(org)
    codes = mirror.store.devices(org_code)["device"]
    codes = codes if devices is None else codes.loc[list(devices)]
    stored = mirror.store.scalar(
        "SELECT count(*) FROM readings WHERE org=? AND ts>=? AND ts<? AND device IN "
        f"({','.join(str(int(c)) for c in codes)})",
        (org_code, lo, hi),
    )
    assert stored == cells


def reading_at(mirror, device, field, ts):
    df = mirror.readings(DEMO_ORG, devices=[device])
    return df.loc[df.index == pd.Timestamp(ts), field].item()


def requests_since(sim, n0):
    return [(r["path"], r["status"]) for r in sim.log[n0:]]


# ----------------------------------------------------------------------------- tests
def test_whole_demo_org_month_equals_truth_and_second_sync_is_cheap(sim, tmp_path, make_client):
    start, end = "2026-10-15T00:00Z", "2026-11-15T00:00Z"
    client = make_client()
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    report = mirror.sync(client, DEMO_ORG, start, end)
    assert report.devices == 48
    exp = truth(sim, start, end)
    cells = int(exp.drop(columns=["device_id", "value"]).notna().sum().sum())
    # readings are (device, timestamp) rows; field values are counted apart
    assert report.values_added == cells
    assert report.readings_added == len(exp) < cells
    assert report.changes_applied == 0 and report.conflicts == 0
    assert_equals_truth(mirror, sim, start, end)
    # the watermark starts at the last changedAt the server had (a server-clock instant)
    changes = sim.world.changes(DEMO_ORG)
    assert report.watermark == changes["changed_at"].max()
    baseline = mirror.changes(DEMO_ORG)
    assert set(baseline["change_id"]) == set(
        changes.loc[changes["changed_at"] >= start, "change_id"]
    )
    assert (baseline["outcome"] == "baseline").all()

    n0 = len(sim.log)
    again = mirror.sync(client, DEMO_ORG, start, end)
    paths = requests_since(sim, n0)
    assert again.readings_added == 0 and again.changes_applied == 0 and again.windows == 0
    assert len(paths) <= 3, paths  # device list + one changelog page (+ a re-login at most)
    runs = mirror.runs()
    assert runs["status"].tolist() == ["ok", "ok"]
    assert runs["readings_added"].tolist() == [len(exp), 0]
    assert runs["values_added"].tolist() == [cells, 0]


def test_readings_layout_filters_and_export(sim, tmp_path, make_client):
    start, end = "2026-06-01T00:00Z", "2026-06-02T00:00Z"
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    mirror.sync(make_client(), DEMO_ORG, start, end)
    dev = org_devices(sim).index[0]
    df = mirror.readings(DEMO_ORG, "2026-06-01T06:00Z", "2026-06-01T12:00Z", devices=dev)
    assert df.index.name == "timestamp" and str(df.index.tz) == "UTC"
    assert df.index.is_monotonic_increasing
    assert (df.index >= "2026-06-01T06:00Z").all() and (df.index < "2026-06-01T12:00Z").all()
    assert set(df["device_id"]) == {dev}
    mult = sim.world.devices.at[dev, "multiplier"]
    np.testing.assert_allclose(df["value"], np.round(df[RAW] * mult, 6))
    assert df.attrs["org_id"] == DEMO_ORG
    # same columns and dtypes for an empty answer; unknown devices are named
    empty = mirror.readings("00000000-0000-0000-0000-00000000ffff")
    assert empty.empty and empty.index.name == "timestamp"
    with pytest.raises(ValueError, match="not in the mirror"):
        mirror.readings(DEMO_ORG, devices=["no-such-device"])
    with pytest.raises(ValueError, match="end="):
        mirror.readings(DEMO_ORG, "2026-06-02", "2026-06-01")

    pytest.importorskip("dask.dataframe")
    import pyarrow.dataset as ds

    # the export is the readings dataset: one folder per device bucket, scan_readings
    # gives back exactly mirror.readings (layout, dtypes, tz and device details)
    out = mirror.export_parquet(tmp_path / "lake")
    parts = {p.relative_to(out).parts[:2] for p in out.rglob("*.parquet")}
    assert all(o == f"org={DEMO_ORG}" and b.startswith("bucket=") for o, b in parts)
    full = mirror.readings(DEMO_ORG)
    fields = [c for c in full.columns if c not in ("device_id", "value") and full[c].notna().any()]
    ddf = wf.scan_readings(out, org=DEMO_ORG)
    assert ddf.npartitions == len(parts)
    back = ddf.compute()
    key = ["timestamp", "device_id"]
    want = full[["device_id", *fields, "value"]].reset_index().sort_values(key, kind="stable")
    got = back[["device_id", *fields, "value"]].reset_index().sort_values(key, kind="stable")
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))
    assert back.attrs["tz"] == full.attrs["tz"]
    pd.testing.assert_frame_equal(
        back.attrs["devices"], full.attrs["devices"].loc[back.attrs["devices"].index]
    )
    # hive-partitioned Parquet for other engines; exporting again adds no rows
    assert len(ds.dataset(out, format="parquet", partitioning="hive").to_table()) == len(full)
    mirror.export_parquet(tmp_path / "lake")
    assert len(ds.dataset(out, format="parquet", partitioning="hive").to_table()) == len(full)
    with pytest.raises(ValueError, match="not in the mirror"):
        mirror.export_parquet(tmp_path / "lake", "00000000-0000-0000-0000-00000000ffff")


def test_bad_arguments_fail_before_any_request(sim, tmp_path, make_client):
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    client = make_client()
    n0 = len(sim.log)
    with pytest.raises(ValueError, match="org="):
        mirror.sync(client, "", "2026-06-01", "2026-06-02")
    with pytest.raises(ValueError, match="client="):
        mirror.sync(sim.base_url, DEMO_ORG, "2026-06-01", "2026-06-02")
    with pytest.raises(ValueError, match="lookback="):
        mirror.sync(client, DEMO_ORG, "2026-06-01", "2026-06-02", lookback="-5min")
    with pytest.raises(ValueError, match="end="):
        mirror.sync(client, DEMO_ORG, "2026-06-02", "2026-06-01")
    with pytest.raises(ValueError, match="start="):
        mirror.sync(client, DEMO_ORG, "not a date", "2026-06-01")
    assert len(sim.log) == n0
    assert mirror.runs().empty  # nothing was started


def test_corrections_after_sync_each_applied_once(sim, tmp_path, make_client):
    """Bulk of 450 at one changedAt, a reading corrected twice, a lagged one behind the
    watermark (only the lookback finds it), and readings months in the past."""
    start, end = "2026-06-01T00:00Z", "2026-06-03T00:00Z"
    sim.configure(clock="2026-12-01T00:00:00Z", speed=60.0)  # 1 wall s = 1 simulated min
    client = make_client()
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    blind = wf.Mirror(tmp_path / "no-lookback.sqlite")  # control: lookback 0 misses the lag
    mirror.sync(client, DEMO_ORG, start, end)
    with pytest.warns(RuntimeWarning, match="replication lag"):
        blind.sync(client, DEMO_ORG, start, end, lookback="0s")
    world = sim.world

    # 450 raw corrections (450 raw + 450 processed rows) sharing one changedAt
    devs = org_devices(sim).index[:10]
    bulk_at = (world.now() - pd.Timedelta(seconds=30)).floor("ms")
    added = []
    targets = []
    for d in devs:
        ts, raw = world.window(d, RAW, start, end)
        for t, r in zip(ts[:45], raw[:45], strict=True):
            targets.append((d, int(t)))
            added += sim.add_correction(
                d, RAW, pd.Timestamp(int(t), unit="ms", tz="UTC"), int(r) + 1000,
                actor="system", changed_at=bulk_at,
            )  # fmt: skip
    assert len(targets) == 450
    assert (world.changes(DEMO_ORG)["changed_at"] == bulk_at).sum() == 900
    # one reading corrected twice
    d2 = org_devices(sim).index[20]
    ts2, raw2 = world.window(d2, RAW, start, end)
    t2 = pd.Timestamp(int(ts2[10]), unit="ms", tz="UTC")
    added += sim.add_correction(d2, RAW, t2, int(raw2[10]) + 5, changed_at=bulk_at)
    added += sim.add_correction(d2, RAW, t2, int(raw2[10]) + 7)
    # a correction visible only after the lag, made before the newest visible change
    lag_at = (world.now() - pd.Timedelta(seconds=20)).floor("ms")
    d3 = org_devices(sim).index[30]
    ts3, raw3 = world.window(d3, RAW, start, end)
    t3 = pd.Timestamp(int(ts3[5]), unit="ms", tz="UTC")
    lagged = sim.add_correction(d3, RAW, t3, int(raw3[5]) + 3, changed_at=lag_at, lag=240)
    added += lagged
    # a reading months before the synced range (outside the coverage)
    d4 = org_devices(sim).index[40]
    ts4, raw4 = world.window(d4, RAW, "2026-05-31T00:00Z", start)
    t4 = pd.Timestamp(int(ts4[3]), unit="ms", tz="UTC")
    old = sim.add_correction(d4, RAW, t4, int(raw4[3]) + 9)
    added += old
    # one more visible change so the watermark passes the lagged one
    added += sim.add_correction(d2, "battery.voltage", t2.floor("h"), 3.01)

    first = mirror.sync(client, DEMO_ORG, start, end)
    with pytest.warns(RuntimeWarning, match="replication lag"):
        blind.sync(client, DEMO_ORG, start, end, lookback="0s")
    assert first.conflicts == 0
    assert first.outcomes.get("out_of_range") == 2  # raw + processed of the old reading
    assert first.watermark >= lag_at
    # not visible yet: the mirror still has the old value, the truth the new one
    assert reading_at(mirror, d3, RAW, t3) == raw3[5]
    assert reading_at(mirror, d2, RAW, t2) == raw2[10] + 7

    visible = pd.Timestamp(lagged[0]["visible_at"])
    # drive the simulated clock past the lag (it runs on at the same speed)
    sim.configure(clock=(visible + pd.Timedelta(seconds=5)).isoformat(), speed=60.0)
    second = mirror.sync(client, DEMO_ORG, start, end)
    with pytest.warns(RuntimeWarning, match="replication lag"):
        blind.sync(client, DEMO_ORG, start, end, lookback="0s")
    assert second.changes_applied == 2  # the lagged raw + processed
    assert reading_at(mirror, d3, RAW, t3) == raw3[5] + 3
    assert reading_at(blind, d3, RAW, t3) == raw3[5]  # lookback 0 loses it: the test bites
    assert_equals_truth(mirror, sim, start, end)

    # each runtime change processed exactly once
    log = mirror.changes(DEMO_ORG)
    ids = [r["change_id"] for r in added]
    assert log["change_id"].is_unique
    mine = log.set_index("change_id").loc[ids]
    assert len(mine) == len(ids)
    in_range = mine[~mine.index.isin([r["change_id"] for r in old])]
    assert in_range["outcome"].eq("applied").all(), in_range["outcome"].value_counts()
    bulk_vals = mirror.readings(DEMO_ORG, devices=list(devs))
    for d, t in targets[::50]:
        row = bulk_vals[(bulk_vals.index == pd.Timestamp(t, unit="ms", tz="UTC"))
                        & (bulk_vals["device_id"] == d)]  # fmt: skip
        assert (
            row[RAW].item()
            == world.window(d, RAW, start, end)[1][
                np.searchsorted(world.window(d, RAW, start, end)[0], t)
            ]
        )

    # the twice-corrected reading is corrected a third time, between syncs; and extending
    # the range backwards brings the old reading, corrected, from the server
    third_fix = sim.add_correction(d2, RAW, t2, int(raw2[10]) + 8)
    third = mirror.sync(client, DEMO_ORG, "2026-05-31T00:00Z", end)
    assert third.readings_added > 0
    assert third.outcomes == {"applied": 2}  # raw + processed, the mirror held raw + 7
    assert reading_at(mirror, d2, RAW, t2) == raw2[10] + 8
    assert mirror.changes(DEMO_ORG).loc[lambda c: c["change_id"] == third_fix[0]["change_id"],
                                        "mirror_value"].item() == raw2[10] + 7  # fmt: skip
    assert reading_at(mirror, d4, RAW, t4) == raw4[3] + 9
    assert_equals_truth(mirror, sim, "2026-05-31T00:00Z", end)


def test_no_progress_paging_stops_with_an_error(monkeypatch):
    page = {
        "data": [
            {
                "id": f"c{i}",
                "deviceId": "d",
                "field": RAW,
                "timestamp": "2026-01-01T00:00:00Z",
                "previousValue": 1,
                "newValue": 2,
                "actor": "user",
                "changedAt": "2026-01-02T00:00:00Z",
            }
            for i in range(changelog.PAGE_LIMIT)
        ],  # fmt: skip
    }
    calls = iter(range(100))

    def fake(client, org, since, cursor, limit):
        return {**page, "nextCursor": f"cur-{next(calls)}"}

    monkeypatch.setattr(changelog.ep, "changes_page", fake)
    pages = changelog.change_pages(None, "org", pd.Timestamp("2026-01-01", tz="UTC"))
    next(pages)
    with pytest.raises(SyncError, match="no progress"):
        next(pages)


def test_live_clock_syncs_keep_every_device_complete_up_to_its_frontier(sim, tmp_path, make_client):
    """With the server's clock running (10 simulated minutes per wall second) readings keep
    arriving; each sync certifies a device only up to what the server's clock had passed,
    the next one probes and fetches the rest. Per device, the mirror equals the truth on
    [start, cov_end); the devices fetched by a sync leave it with one common frontier."""
    sim.configure(clock="2026-11-20T00:00:00Z", speed=600.0)
    start, end = "2026-11-19T00:00Z", "2026-11-25T00:00Z"  # end beyond the server's clock
    client = make_client()
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    org_code = mirror.store.org_code(DEMO_ORG)
    added = []
    previous = None
    for _ in range(3):
        report = mirror.sync(client, DEMO_ORG, start, end)
        added.append(report.readings_added)
        state = mirror.store.devices(org_code)
        cov_end = state["cov_end"].astype(int)
        if previous is not None:
            # devices that moved all moved to one common frontier (the top-up's work);
            # the others are the ones the probe skipped
            moved = cov_end[cov_end != previous]
            assert moved.nunique() == 1, moved.value_counts()
        previous = cov_end
        for frontier_ms, members in state.groupby(cov_end).groups.items():
            frontier = pd.Timestamp(frontier_ms, unit="ms", tz="UTC")
            assert frontier <= sim.world.now()
            assert_equals_truth(mirror, sim, start, frontier, devices=list(members))
        # 15 simulated minutes pass: jump the running clock instead of sleeping 1.5 s
        sim.configure(clock=(sim.world.now() + pd.Timedelta(minutes=15)).isoformat(), speed=600.0)
    assert all(n > 0 for n in added)  # new readings arrived and were fetched each time


def assert_complete_to_frontiers(mirror, sim, start):
    """Per device, the mirror equals the truth on [start, the device's cov_end)."""
    state = mirror.store.devices(mirror.store.org_code(DEMO_ORG))
    cov_end = state["cov_end"].astype(int)
    for frontier_ms, members in state.groupby(cov_end).groups.items():
        frontier = pd.Timestamp(frontier_ms, unit="ms", tz="UTC")
        assert_equals_truth(mirror, sim, start, frontier, devices=list(members))
    return cov_end


def test_extending_end_probes_once_and_fetches_only_devices_with_news(
    sim, tmp_path, monkeypatch, make_client
):
    start = "2026-06-01T00:00Z"
    client = make_client()
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    mirror.sync(client, DEMO_ORG, start, "2026-06-02T00:01Z")
    # No meter reading lies in [00:01, 00:02): the probe says so, nothing is fetched.
    n0 = len(sim.log)
    quiet = mirror.sync(client, DEMO_ORG, start, "2026-06-02T00:02Z")
    paths = [p.rsplit("/", 1)[-1] for p, _ in requests_since(sim, n0)]
    assert paths == ["devices", "device-daily-consumption", "changes"], paths
    assert quiet.windows == 0
    # Until 00:31 the 15- and 30-minute meters have a new reading, the hourly ones not.
    news = {
        d
        for d in org_devices(sim).index
        if len(sim.world.window(d, RAW, "2026-06-02T00:01Z", "2026-06-02T00:31Z")[0])
    }
    assert 0 < len(news) < 48
    n0 = len(sim.log)
    busy = mirror.sync(client, DEMO_ORG, start, "2026-06-02T00:31Z")
    log = sim.log[n0:]
    assert sum(r["path"].endswith("device-daily-consumption") for r in log) == 1
    fetched = {r["path"].split("/")[3] for r in log if r["path"].endswith("/telemetry")}
    assert fetched == news and busy.windows == len(news)
    cov_end = assert_complete_to_frontiers(mirror, sim, start)
    end_ms = int(pd.Timestamp("2026-06-02T00:31Z").value // 1_000_000)
    moved = set(cov_end[cov_end == end_ms].index)
    assert moved == news  # the skipped ones keep their frontier: fetched later, not lost
    # A probe the server refuses is skipped: every device is fetched instead.
    from waltero_frames.api import fetch

    def refuse(*args, **kwargs):
        raise wf.BadRequest("range too long", status=400, code="BAD_REQUEST")

    monkeypatch.setattr(fetch, "daily_consumption", refuse)
    fallback = mirror.sync(client, DEMO_ORG, start, "2026-06-02T01:00Z")
    assert fallback.windows == 48
    assert_equals_truth(mirror, sim, start, "2026-06-02T01:00Z")


def test_corrections_made_during_the_first_backfill_are_not_missed(
    sim, tmp_path, monkeypatch, make_client
):
    """The watermark starts at the baseline's last changedAt, read before any telemetry:
    a correction made while the backfill runs is applied by the same sync when its reading
    was fetched before it, and found already current when fetched after it."""
    from waltero_frames.api import fetch

    start, end = "2026-06-01T00:00Z", "2026-06-02T00:00Z"
    sim.configure(clock="2026-12-01T00:00:00Z", speed=60.0)
    real = fetch.telemetry
    calls: list[str] = []
    made = {}

    def telemetry(client, devices, *args, **kwargs):
        out = real(client, devices, *args, **kwargs)
        calls.append(devices.index[0])
        if len(calls) == 10:  # mid-backfill: correct one fetched and one not yet fetched
            for name, dev in (("fetched", calls[0]), ("later", None)):
                dev = dev or next(d for d in org_devices(sim).index if d not in calls)
                ts, raw = sim.world.window(dev, RAW, start, end)
                when = pd.Timestamp(int(ts[3]), unit="ms", tz="UTC")
                rows = sim.add_correction(dev, RAW, when, int(raw[3]) + 11)
                made[name] = (dev, when, int(raw[3]) + 11, rows)
        return out

    monkeypatch.setattr(fetch, "telemetry", telemetry)
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    report = mirror.sync(make_client(), DEMO_ORG, start, end, max_workers=1)
    assert len(made) == 2
    log = mirror.changes(DEMO_ORG).set_index("change_id")
    for name, expected in (("fetched", "applied"), ("later", "current")):
        dev, when, value, rows = made[name]
        assert reading_at(mirror, dev, RAW, when) == value
        assert (log.loc[[r["change_id"] for r in rows], "outcome"] == expected).all(), name
    assert report.conflicts == 0
    assert_equals_truth(mirror, sim, start, end)


def test_a_diverged_mirror_gets_the_server_value_and_records_the_conflict(
    sim, tmp_path, make_client
):
    start, end = "2026-06-01T00:00Z", "2026-06-02T00:00Z"
    client = make_client()
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    mirror.sync(client, DEMO_ORG, start, end)
    dev = org_devices(sim).index[3]
    ts, raw = sim.world.window(dev, RAW, start, end)
    when = pd.Timestamp(int(ts[7]), unit="ms", tz="UTC")
    # the local copy diverges (someone edited the file) ...
    store = mirror.store
    (code,) = store.device_codes([dev])
    (raw_code,) = store.field_codes([RAW])
    with store.transaction() as con:
        con.execute(
            "UPDATE readings SET value=? WHERE device=? AND field=? AND ts=?",
            (12345.0, int(code), int(raw_code), int(ts[7])),
        )
    # ... and the server corrects that reading
    rows = sim.add_correction(dev, RAW, when, int(raw[7]) + 2)
    report = mirror.sync(client, DEMO_ORG, start, end)
    assert report.conflicts == 1 and report.changes_applied == 2  # raw conflicts, processed not
    log = mirror.changes(DEMO_ORG).set_index("change_id").loc[rows[0]["change_id"]]
    assert (log["outcome"], log["mirror_value"], log["previous_value"], log["new_value"]) == (
        "conflict",
        12345.0,
        raw[7],
        raw[7] + 2,
    )
    assert reading_at(mirror, dev, RAW, when) == raw[7] + 2
    assert_equals_truth(mirror, sim, start, end)


def test_first_sync_without_any_server_clock_evidence(sim, tmp_path, make_client):
    """No change since ``start`` and no reading held: the first requests certify nothing;
    the readings they return are the evidence for the rest, and the top-up completes them."""
    start, end = "2026-11-29T00:00Z", "2026-11-30T00:00Z"  # the last change is 2026-11-28
    assert (sim.world.changes(DEMO_ORG)["changed_at"] < start).all()
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    report = mirror.sync(make_client(), DEMO_ORG, start, end)
    assert report.watermark is None
    assert report.windows > 48  # the first wave was fetched again by the top-up
    assert_equals_truth(mirror, sim, start, end)
    cov_end = assert_complete_to_frontiers(mirror, sim, start)
    assert cov_end.nunique() == 1  # one common frontier: the newest reading seen + 1 ms


# ------------------------------------------------ acceptance findings (layout, counts, attrs)
SYDNEY = "00000000-0000-0000-0000-000000000002"
CATALOG = [RAW, PROC, "battery.voltage", "connection.rssi", "battery.level", "connection.snr",
           "meta.firmware", "meta.temperature"]  # fmt: skip


def layout(df):
    return df.index.name, str(df.index.dtype), list(df.columns), [str(t) for t in df.dtypes]


def test_readings_names_a_non_uuid_org_and_gives_unsynced_orgs_the_full_layout(tmp_path):
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    for bad in ("bogus", "", None, 17, "00000000-0000-0000-0000-00000000000"):
        with pytest.raises(ValueError, match=f"org={bad!r}"):
            mirror.readings(bad)
    with pytest.raises(ValueError, match="field"):
        mirror.readings(DEMO_ORG, fields=[])
    never = mirror.readings("00000000-0000-0000-0000-00000000ffff")
    assert never.empty
    assert list(never.columns) == ["device_id", *CATALOG, "value"]
    dtypes = dict(zip(never.columns, map(str, never.dtypes), strict=True))
    assert dtypes.pop("device_id") == "str" and dtypes.pop("meta.firmware") == "str"
    assert set(dtypes.values()) == {"float64"}
    assert never.index.name == "timestamp" and str(never.index.tz) == "UTC"
    assert never.attrs["org_id"] == "00000000-0000-0000-0000-00000000ffff"
    assert "tz" not in never.attrs  # never synced: the zone is not known
    assert len(mirror.runs()) == 0  # reading never registers anything


def test_readings_layout_is_the_same_for_every_input(sim, tmp_path, make_client):
    start, end = "2026-06-01T00:00Z", "2026-06-02T00:00Z"
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    client = make_client()
    mirror.sync(client, SYDNEY, start, end)  # v1 and v2 devices: v1 lack two fields
    v1 = org_devices(sim, SYDNEY).query("variant == 'W-Sensor v1'").index[0]
    frames_ = {
        "synced": mirror.readings(SYDNEY),
        "empty range": mirror.readings(SYDNEY, "2025-01-01", "2025-01-02"),
        "v1 device": mirror.readings(SYDNEY, devices=[v1]),
        "never synced": mirror.readings(DEMO_ORG),
    }
    assert not frames_["synced"].empty and frames_["empty range"].empty
    assert frames_["never synced"].empty
    want = layout(frames_["never synced"])
    for name, df in frames_.items():
        assert layout(df) == want, name
    # a v1 device reports neither battery.level nor connection.snr: NaN columns, not absent
    assert frames_["v1 device"][["battery.level", "connection.snr"]].isna().all().all()
    assert frames_["v1 device"][RAW].notna().any()
    # explicit fields: exactly those columns in that order, empty or not
    pick = ["battery.voltage", RAW]
    for lo, hi in ((start, end), ("2025-01-01", "2025-01-02")):
        df = mirror.readings(SYDNEY, lo, hi, fields=pick)
        assert list(df.columns) == ["device_id", *pick, "value"]
    only = mirror.readings(SYDNEY, fields="meta.firmware")
    assert list(only.columns) == ["device_id", "meta.firmware"]
    assert str(only["meta.firmware"].dtype) == "str" and len(only) > 0
    # rows that hold none of the asked fields are not rows: firmware is sampled seldom
    assert len(only) < len(frames_["synced"])
    assert only["meta.firmware"].notna().all()
    # the full frame's rows equal the ground truth, fields the World has for them
    exp = truth(sim, start, end, SYDNEY)
    got = frames_["synced"]
    assert got.index.equals(exp.index)
    np.testing.assert_allclose(got[RAW].to_numpy(), exp[RAW].to_numpy(dtype=float))


def test_window_counts_readings_as_rows_and_values_apart(tmp_path):
    store = wf.mirror.Store(tmp_path / "m.sqlite")
    org = store.org_code("00000000-0000-0000-0000-000000000009")
    store.upsert_devices(org, pd.DataFrame({"multiplier": [1.0]}, index=pd.Index(["d1"])))
    (dev,) = store.device_codes(["d1"])
    raw, bat = store.field_codes([RAW, "battery.voltage"]).tolist()
    store.ensure_coverage(org, int(dev), 0)
    # raw at 0, 100, 200; battery at 0 and 300: 4 (device, timestamp) rows, 5 values
    f = np.array([raw, raw, raw, bat, bat])
    t = np.array([0, 100, 200, 0, 300])
    assert store.commit_window(org, int(dev), 0, 1000, f, t, [1, 2, 3, 3.6, 3.5]) == (4, 5)
    # battery at 100 (row held) and 400 (new row), raw at 400 and re-fetched raw at 200
    f = np.array([bat, bat, raw, raw])
    t = np.array([100, 400, 400, 200])
    assert store.commit_window(org, int(dev), 0, 1000, f, t, [3.5, 3.4, 4, 3]) == (1, 3)
    assert store.commit_window(org, int(dev), 0, 1000, f, t, [3.5, 3.4, 4, 3]).readings == 0
    rows = store.query("SELECT n_readings, n_added, n_values_added FROM windows")
    assert rows == [(3, 0, 0)]  # the last commit of [0, 1000) replaced the log row
    store.close()


def test_a_schema_1_file_is_upgraded_in_place(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    store = wf.mirror.Store(path)
    org = store.org_code(SYDNEY)
    run = store.begin_run(org, 0, 1)
    store.finish_run(run, "ok", readings_added=12)
    store.close()
    con = sqlite3.connect(path)  # back to the version-1 schema
    for table, col in (("orgs", "timezone"), ("windows", "n_values_added"),
                       ("sync_runs", "values_added")):  # fmt: skip
        con.execute(f"ALTER TABLE {table} DROP COLUMN {col}")
    con.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    con.commit()
    con.close()
    with wf.Mirror(path) as mirror:
        assert mirror.store.scalar("SELECT value FROM meta WHERE key='schema_version'") == "2"
        assert mirror.runs()["readings_added"].tolist() == [12]
        assert mirror.runs()["values_added"].isna().all()  # not counted by version 1
        mirror.store.set_org_timezone(org, "Australia/Sydney")
        assert mirror.store.org_timezone(org) == "Australia/Sydney"


def test_mirror_frames_carry_zone_and_devices_for_the_helpers(sim, tmp_path, make_client):
    start, end = "2026-06-01T00:00Z", "2026-06-15T00:00Z"
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    client = make_client()
    report = mirror.sync(client, SYDNEY, start, end)
    zone = sim.world.orgs.at[SYDNEY, "timezone"]
    assert zone == "Australia/Sydney"
    r = mirror.readings(SYDNEY)
    assert r.attrs["tz"] == zone and r.attrs["org_id"] == SYDNEY
    assert r.attrs["start"] is None and r.attrs["end"] is None
    assert r.attrs["source"] == f"mirror:{mirror.path}"
    devs = org_devices(sim, SYDNEY)
    info = r.attrs["devices"]
    assert sorted(info.index) == sorted(devs.index) and info.index.name == "device_id"
    cols = ["meter_type", "unit", "multiplier", "register_digits"]
    assert list(info.columns) == cols
    exp_info = devs.loc[info.index, cols]
    assert info[["meter_type", "unit"]].astype(str).equals(exp_info[["meter_type", "unit"]])
    np.testing.assert_array_equal(info["multiplier"], exp_info["multiplier"].astype(float))
    np.testing.assert_array_equal(info["register_digits"], exp_info["register_digits"])
    # the zone is asked once: a second sync does not ask /auth/me again
    n0 = len(sim.log)
    mirror.sync(client, SYDNEY, start, end)
    assert not any(p.endswith("/auth/me") for p, _ in requests_since(sim, n0))
    assert report.readings_added == len(truth(sim, start, end, SYDNEY))

    # the helpers need no extra arguments: same as with every argument given explicitly
    bare = r.copy()
    bare.attrs = {}
    explicit = dict(
        meter_type=devs["meter_type"],
        multiplier=devs["multiplier"],
        register_digits=devs["register_digits"],
    )
    flags = wf.flag_anomalies(r)
    want = wf.flag_anomalies(bare, tz=zone, **explicit)
    pd.testing.assert_frame_equal(flags, want, check_like=False, check_flags=False)
    # the trap: UTC "nights" are Sydney's days, which flow in every hour (night_floor=0
    # leaves only that test; by default their draw is not flat enough to flag either way)
    local = wf.flag_anomalies(bare, tz=zone, night_floor=0.0, **explicit)
    utc = wf.flag_anomalies(bare, tz="UTC", night_floor=0.0, **explicit)
    assert local["night_flow"].sum() < utc["night_flow"].sum()
    cons = wf.readings_to_consumption(r)
    want_cons = wf.readings_to_consumption(
        bare, multiplier=devs["multiplier"], register_digits=devs["register_digits"]
    )
    pd.testing.assert_frame_equal(cons, want_cons)
    assert cons["consumption"].notna().sum() > 0
    # attrs-safe: two mirror frames concatenate; a one-device frame has its device only
    one = mirror.readings(SYDNEY, devices=devs.index[:1])
    assert list(one.attrs["devices"].index) == [devs.index[0]]
    both = pd.concat(
        [mirror.readings(SYDNEY, end="2026-06-08"), mirror.readings(SYDNEY, "2026-06-08")]
    )
    assert len(both) == len(r)
