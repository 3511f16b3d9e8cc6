"""The readings dataset and the helpers on Dask frames (issue 14), on the demo org.

Simulator telemetry (over HTTP) → ``wf.write_readings`` → ``wf.scan_readings``: the
helpers' lazy Dask results compute to exactly the in-memory results on the computed
frame, across month and DST boundaries (the dataset is written month by month), on a
threaded scheduler and on a ``LocalCluster`` of two worker processes; DuckDB over the
same files agrees with the helpers' local days.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import waltero_frames as wf

dd = pytest.importorskip("dask.dataframe")

ORG = "00000000-0000-0000-0000-000000000001"
ROLLOVER_DEVICE = "11111111-1111-1111-1111-111111111113"  # 5-digit register, wraps 2026-03-05
TZ = "Europe/Berlin"
START, END = "2026-02-25", "2026-04-02"  # two month boundaries, DST on 2026-03-29


def rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by (index, device_id), the index as a column: order-free comparison."""
    name = frame.index.name or "index"
    flat = frame.reset_index().rename(columns={"index": name})
    return flat.sort_values([name, "device_id"], kind="stable").reset_index(drop=True)


def assert_same(lazy, frame: pd.DataFrame) -> None:
    got = lazy.compute()
    pd.testing.assert_frame_equal(rows(got), rows(frame), rtol=1e-9)
    assert got.attrs.keys() == frame.attrs.keys()


@pytest.fixture(scope="module")
def telemetry(waltero_sim_server):
    sim = waltero_sim_server
    sim.reset()
    client = wf.Client(sim.base_url, sim.username, sim.password, progress=False)
    fleet = wf.devices(client, ORG, details=True)
    fleet = fleet[(fleet.index < fleet.index[24]) | (fleet.index == ROLLOVER_DEVICE)]
    return wf.telemetry(client, fleet, START, END, tz=TZ), sim.world


@pytest.fixture(scope="module")
def dataset(telemetry, tmp_path_factory):
    """The demo org written month by month (each write merges into the bucket files)."""
    frame, _ = telemetry
    path = tmp_path_factory.mktemp("readings") / "ds"
    months = frame.index.tz_localize(None).to_period("M")  # UTC months
    for month in months.unique():
        wf.write_readings(frame[months == month], path)
    return path


def test_roundtrip_layout_metadata_and_bucket_files(telemetry, dataset):
    frame, world = telemetry
    ddf = wf.scan_readings(dataset)
    back = ddf.compute()
    pd.testing.assert_frame_equal(rows(back[list(frame.columns)]), rows(frame))
    assert back.index.name == "timestamp" and str(back.index.dtype) == "datetime64[us, UTC]"
    assert back["device_id"].dtype == "str"
    assert back.attrs["tz"] == TZ and back.attrs["org_id"] == ORG
    info = back.attrs["devices"]
    truth = world.devices.loc[info.index]
    assert info["meter_type"].tolist() == truth["meter_type"].tolist()
    np.testing.assert_array_equal(info["multiplier"], truth["multiplier"].astype(float))
    np.testing.assert_array_equal(info["register_digits"], truth["register_digits"].astype(float))
    # each partition: whole devices, rows by time then device
    seen: set[str] = set()
    for k in range(ddf.npartitions):
        part = ddf.get_partition(k).compute()
        ids = set(part["device_id"])
        assert not ids & seen
        seen |= ids
        key = list(zip(part.index.asi8, part["device_id"], strict=True))
        assert key == sorted(key)
    assert seen == set(frame["device_id"])
    # one folder per device bucket; one file in each after three monthly writes
    meta = json.loads((dataset / "_readings.json").read_text())
    folders = {(r["org_id"], r["bucket"]) for r in meta["devices"]}
    files = sorted(dataset.glob("org=*/bucket=*/*.parquet"))
    assert len(files) == len(folders) == ddf.npartitions


def test_device_filter_reads_only_its_bucket_and_time_bounds(telemetry, dataset):
    frame, _ = telemetry
    ddf = wf.scan_readings(dataset, devices=[ROLLOVER_DEVICE], start="2026-03-01", end="2026-03-10")
    assert ddf.npartitions == 1
    got = ddf.compute()
    want = frame[(frame["device_id"] == ROLLOVER_DEVICE)]
    want = want[(want.index >= "2026-03-01T00:00Z") & (want.index < "2026-03-10T00:00Z")]
    pd.testing.assert_frame_equal(got[list(frame.columns)], want)
    assert got.attrs["start"] == pd.Timestamp("2026-03-01", tz="UTC")
    one = wf.scan_readings(dataset, org=ORG, fields=["battery.voltage"]).compute()
    assert list(one.columns) == ["device_id", "battery.voltage"]


def test_helpers_on_dask_equal_in_memory_no_month_seams(telemetry, dataset):
    ddf = wf.scan_readings(dataset)
    whole = ddf.compute()
    cons_lazy = wf.readings_to_consumption(ddf)
    assert isinstance(cons_lazy, dd.DataFrame)
    cons = wf.readings_to_consumption(whole)
    assert_same(cons_lazy, cons)
    # the first reading of March links to the last of February: only each device's very
    # first reading has no delta
    got = cons_lazy.compute()
    assert got["consumption"].isna().sum() == got["device_id"].nunique()
    march = got[got.index >= "2026-03-01T00:00Z"].groupby("device_id")["consumption"].first()
    assert march.notna().all()
    assert got.loc[got["device_id"] == ROLLOVER_DEVICE, "rollover"].sum() == 1
    for freq in ("D", "MS"):
        for method in ("attribute", "interpolate"):
            lazy = wf.resample_consumption(cons_lazy, freq, tz=TZ, method=method)
            assert_same(lazy, wf.resample_consumption(cons, freq, tz=TZ, method=method))
    for freq in ("D", "MS"):
        assert_same(wf.load_kpis(cons_lazy, freq=freq), wf.load_kpis(cons, freq=freq))
    flags_lazy = wf.flag_anomalies(ddf)
    flags = wf.flag_anomalies(whole)
    assert_same(flags_lazy, flags)
    events = wf.anomaly_events(flags)
    got_events = wf.anomaly_events(flags_lazy).compute()
    pd.testing.assert_frame_equal(
        got_events.sort_values(["device_id", "rule", "start"]).reset_index(drop=True),
        events.sort_values(["device_id", "rule", "start"]).reset_index(drop=True),
    )
    assert len(events) > 0


def test_local_days_against_the_simulator_truth(telemetry, dataset):
    """Independent expectation: daily totals from the World's own series."""
    _, world = telemetry
    ddf = wf.scan_readings(dataset, devices=[ROLLOVER_DEVICE])
    days = wf.resample_consumption(wf.readings_to_consumption(ddf), "D", tz=TZ).compute()
    ts, raw = world.series(ROLLOVER_DEVICE, "meter.value.raw")
    info = world.devices.loc[ROLLOVER_DEVICE]
    t = pd.to_datetime(ts, unit="ms", utc=True)
    keep = (t >= pd.Timestamp(START, tz=TZ)) & (t < pd.Timestamp(END, tz=TZ))
    step = np.diff(raw[keep].astype(np.int64))
    step[step < 0] += 10 ** int(info["register_digits"])
    local_day = t[keep][1:].tz_convert(TZ).normalize()
    want = pd.Series(step * float(info["multiplier"]), index=local_day).groupby(level=0).sum()
    got = days.set_index(days.index.tz_convert(TZ))["consumption"]
    got = got[got.index.isin(want.index)]
    np.testing.assert_allclose(got.to_numpy(), want.loc[got.index].to_numpy(), rtol=1e-9)
    assert (got.index == pd.Timestamp("2026-03-29", tz=TZ)).any()  # the 23-hour day


def test_frame_not_partitioned_by_device_is_refused_with_the_fix(telemetry):
    frame, _ = telemetry
    ddf = dd.from_pandas(frame, npartitions=4, sort=False)  # cut by time: devices split
    with pytest.raises(ValueError, match=r"not partitioned by device.*repartition_by_device"):
        wf.readings_to_consumption(ddf)
    fixed = wf.repartition_by_device(ddf, npartitions=3)
    assert fixed.npartitions == 3
    assert_same(wf.readings_to_consumption(fixed), wf.readings_to_consumption(frame))
    with pytest.raises(ValueError, match="npartitions=0"):
        wf.repartition_by_device(ddf, npartitions=0)
    with pytest.raises(ValueError, match="Dask DataFrame"):
        wf.repartition_by_device(frame)


def test_mixed_time_zones_and_not_a_dataset_are_refused(telemetry, tmp_path):
    frame, _ = telemetry
    a = frame[frame["device_id"] == ROLLOVER_DEVICE].copy()
    b = frame[frame["device_id"] != ROLLOVER_DEVICE].iloc[:500].copy()
    b.attrs = {
        **b.attrs,
        "tz": "Australia/Sydney",
        "org_id": "00000000-0000-0000-0000-000000000002",
    }
    path = tmp_path / "two"
    wf.write_readings(a, path)
    wf.write_readings(b, path)
    with pytest.raises(ValueError, match=r"different time zones.*Australia/Sydney.*org="):
        wf.scan_readings(path)
    one = wf.scan_readings(path, org=ORG).compute()
    assert set(one["device_id"]) == {ROLLOVER_DEVICE} and one.attrs["tz"] == TZ
    moved = b.assign(device_id=ROLLOVER_DEVICE)  # a stored device under another org
    with pytest.raises(ValueError, match="stored under org"):
        wf.write_readings(moved, path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.csv").write_text("a\n")
    for bad in (tmp_path / "other", tmp_path / "missing"):
        with pytest.raises(ValueError, match="is not a readings dataset"):
            wf.scan_readings(bad)
    with pytest.raises(ValueError, match="is not a readings dataset"):
        wf.write_readings(a, tmp_path / "other")
    with pytest.raises(ValueError, match="devices not in the dataset"):
        wf.scan_readings(path, devices=["nope"])
    with pytest.raises(ValueError, match="end="):
        wf.scan_readings(path, start="2026-03-02", end="2026-03-01")


def test_without_the_extra_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)  # as if Dask were missing
    with pytest.raises(ImportError, match=r"pip install 'waltero_frames\[scale\]'"):
        wf.scan_readings(tmp_path)


@pytest.mark.timeout(600)
def test_local_cluster_two_worker_processes(telemetry, dataset):
    distributed = pytest.importorskip("distributed")
    import dask

    ddf = wf.scan_readings(dataset, start="2026-03-25", end="2026-04-02")
    whole = ddf.compute(scheduler="threads")
    slow_machine = {  # two fresh worker processes start slowly on a loaded shared box
        "distributed.comm.timeouts.connect": "180s",
        "distributed.comm.timeouts.tcp": "180s",
        "distributed.deploy.lost-worker-timeout": "180s",
    }
    with (
        dask.config.set(slow_machine),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        cons = wf.readings_to_consumption(ddf)
        days = wf.resample_consumption(cons, "D", tz=TZ)
        flags = wf.flag_anomalies(ddf)
        got_days, got_flags = client.compute([days, flags], sync=True)
    want_cons = wf.readings_to_consumption(whole)
    pd.testing.assert_frame_equal(
        rows(got_days), rows(wf.resample_consumption(want_cons, "D", tz=TZ)), rtol=1e-9
    )
    pd.testing.assert_frame_equal(rows(got_flags), rows(wf.flag_anomalies(whole)), rtol=1e-9)


def test_duckdb_query_of_docs_agrees_with_the_helpers(dataset):
    """The SQL shown in docs/scale.md, run on the dataset: the helpers' local days."""
    duckdb = pytest.importorskip("duckdb")
    doc = (Path(__file__).parents[1] / "docs" / "scale.md").read_text()
    sql = doc.split("```sql\n", 1)[1].split("```", 1)[0].replace("readings/", f"{dataset}/")
    got = duckdb.sql(sql).df()
    ddf = wf.scan_readings(dataset)
    days = wf.resample_consumption(wf.readings_to_consumption(ddf), "D", tz=TZ).compute()
    want = days.assign(day=days.index.tz_convert(TZ).tz_localize(None)).set_index(
        ["device_id", "day"]
    )
    want = want[want["n_readings"] > 0]  # the helper also lists days without readings
    got = got.set_index(["device_id", "day"])
    assert len(got) == len(want)
    want = want.loc[got.index]
    np.testing.assert_array_equal(got["n_readings"].to_numpy(), want["n_readings"].to_numpy())
    # SQL sums no delta on a device's first reading as NULL; the helper as 0
    np.testing.assert_allclose(
        got["consumption"].fillna(0.0).to_numpy(),
        want["consumption"].to_numpy(),
        rtol=1e-9,
        atol=1e-9,
    )


def test_usual_interval_depends_on_the_device_alone():
    """A device's usual interval (which decides gaps and coverage) comes from its own rows,
    so a partition of whole devices gives the numbers of the whole frame, also for devices
    with irregular readings and more intervals than the median samples."""
    rng = np.random.default_rng(7)
    parts = []
    # one long regular device (the whole frame is over 400,000 rows), and devices whose
    # intervals are half 15 min, half 1 h: the median decides whether their hours count
    # as covered (3 x 15 min < 1 h)
    for k, n in enumerate((410_000, 701, 701, 701, 701, 5)):
        gaps = np.where(rng.permutation(n) < n // 2, 900, 3_600) if k else np.full(n, 900)
        ts = pd.Timestamp("2026-03-20", tz="UTC") + pd.to_timedelta(np.cumsum(gaps), unit="s")
        parts.append(
            pd.DataFrame(
                {"device_id": f"m{k}", "consumption": rng.random(n)},
                index=pd.DatetimeIndex(ts, name="timestamp").as_unit("us"),
            )
        )
    whole = pd.concat(parts).sort_index(kind="stable")
    days = wf.resample_consumption(whole, "D", tz=TZ)
    for part in parts:
        alone = wf.resample_consumption(part, "D", tz=TZ)
        mine = days[days["device_id"] == part["device_id"].iloc[0]]
        pd.testing.assert_frame_equal(mine, alone)
    assert (days["coverage"] < 1).any() and (days["coverage"] > 0).any()
