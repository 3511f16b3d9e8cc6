"""The mirror's SQLite store on hand-built frames: no network, expectations by hand."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from waltero_frames.mirror.store import Store

RAW = "meter.value.raw"
PROC = "meter.value.processed"


def ms(iso: str) -> int:
    return int(pd.Timestamp(iso).as_unit("ms").value)


def changes(*rows) -> pd.DataFrame:
    """rows: (change_id, device_id, field, timestamp_ms, previous, new, changed_at_ms)."""
    df = pd.DataFrame(
        rows,
        columns=["change_id", "device_id", "field", "ts", "previous_value", "new_value", "at"],
    )
    return pd.DataFrame(
        {
            "change_id": df["change_id"].to_numpy(),
            "device_id": df["device_id"].to_numpy(),
            "field": df["field"].to_numpy(),
            "timestamp": pd.to_datetime(df["ts"], unit="ms", utc=True).to_numpy(),
            "previous_value": df["previous_value"].to_numpy(dtype=object),
            "new_value": df["new_value"].to_numpy(dtype=object),
            "actor": "user",
        },
        index=pd.DatetimeIndex(pd.to_datetime(df["at"], unit="ms", utc=True), name="changed_at"),
    )


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "m.sqlite")
    yield s
    s.close()


@pytest.fixture
def seeded(store):
    """One org, device d1 covering [0, 1000) with raw 10,20,30 at 0,100,200."""
    org = store.org_code("org-1")
    store.upsert_devices(
        org,
        pd.DataFrame(
            {"multiplier": [0.001], "fields": [(RAW, PROC)]},
            index=pd.Index(["d1"], name="device_id"),
        ),
    )
    (dev,) = store.device_codes(["d1"])
    (raw,) = store.field_codes([RAW])
    store.ensure_coverage(org, int(dev), 0)
    n = store.commit_window(
        org, int(dev), 0, 1000, np.full(3, raw), np.array([0, 100, 200]), [10, 20, 30]
    )
    assert n.readings == 3
    store.init_sync_state(org, 0)
    return store, org, int(dev), int(raw)


def values(store, org):
    df = store.read_readings(org)
    return dict(zip(df["ts"].tolist(), df["value"].tolist(), strict=True))


def test_file_is_wal_and_schema_persists(tmp_path):
    path = tmp_path / "sub" / "m.sqlite"
    s = Store(path)
    org = s.org_code("o")
    s.close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    s2 = Store(path)
    assert s2.org_code("o", create=False) == org
    assert s2.org_code("other", create=False) is None
    s2.close()


def test_window_commit_counts_new_rows_and_extends_coverage(seeded):
    store, org, dev, raw = seeded
    # Re-fetching an overlapping window adds only the new reading and keeps one row each.
    n = store.commit_window(
        org, dev, 150, 2000, np.full(3, raw), np.array([200, 300, 1500]), [30, 40, 50]
    )
    assert n == (2, 2)
    assert values(store, org) == {0: 10, 100: 20, 200: 30, 300: 40, 1500: 50}
    state = store.devices(org).loc["d1"]
    assert (state["cov_start"], state["cov_end"], state["last_ts"]) == (0, 2000, 1500)
    # backwards window before the coverage
    n = store.commit_window(org, dev, -500, 0, np.full(1, raw), np.array([-400]), [5])
    assert n == (1, 1)
    state = store.devices(org).loc["d1"]
    assert (state["cov_start"], state["cov_end"]) == (-500, 2000)
    assert store.scalar("SELECT count(*) FROM windows") == 3


def test_window_must_touch_coverage(seeded):
    store, org, dev, raw = seeded
    with pytest.raises(RuntimeError, match="does not touch"):
        store.commit_window(org, dev, 5000, 6000, np.full(1, raw), np.array([5500]), [1])
    assert 5500 not in values(store, org)


def test_change_outcomes(seeded):
    store, org, dev, raw = seeded
    page = changes(
        ("c1", "d1", RAW, 100, 20, 21, 1),  # matches the mirror -> applied
        ("c2", "d1", RAW, 100, 21, 22, 2),  # second correction of the same reading
        ("c3", "d1", RAW, 200, 99, 31, 2),  # mirror has 30, not 99 -> conflict, applied
        ("c4", "d1", RAW, 5000, 1, 2, 3),  # outside the coverage [0, 1000)
        ("c5", "d1", RAW, 0, 9, 10, 3),  # mirror already has the new value -> current
        ("c6", "d1", RAW, 300, None, 44, 4),  # a reading the mirror lacks, inside coverage
    )
    got = store.apply_changes(org, page)
    assert got["applied"] == 3  # c1, c2, c6 (previous None matches a missing reading)
    assert got["conflict"] == 1 and got["current"] == 1 and got["out_of_range"] == 1
    assert values(store, org) == {0: 10, 100: 22, 200: 31, 300: 44}
    rec = store.frame("SELECT change_id, mirror_value, outcome FROM changes ORDER BY change_id")
    assert rec.set_index("change_id")["outcome"].to_dict() == {
        "c1": "applied",
        "c2": "applied",
        "c3": "conflict",
        "c4": "out_of_range",
        "c5": "current",
        "c6": "applied",
    }
    # conflicts are recorded with both values
    c3 = rec.set_index("change_id").loc["c3"]
    assert c3["mirror_value"] == 30
    assert store.scalar("SELECT previous_value FROM changes WHERE change_id='c3'") == 99
    state = store.sync_state(org)
    assert state["watermark"] == 4 and state["ids_at_watermark"] == ["c6"]


def test_replayed_page_is_applied_once(seeded):
    store, org, dev, raw = seeded
    page = changes(("c1", "d1", RAW, 100, 20, 25, 10), ("c2", "d1", RAW, 200, 30, 35, 10))
    assert store.apply_changes(org, page)["applied"] == 2
    again = store.apply_changes(org, page)
    assert sum(again.values()) == 0
    assert store.scalar("SELECT count(*) FROM changes") == 2
    assert store.scalar("SELECT count(*) FROM readings") == 3
    assert store.sync_state(org)["ids_at_watermark"] == ["c1", "c2"]


def test_late_visible_older_change_does_not_overwrite_a_newer_one(seeded):
    store, org, dev, raw = seeded
    store.apply_changes(org, changes(("c9", "d1", RAW, 100, 20, 29, 50)))
    # An older correction of the same reading shows up later (replication lag):
    got = store.apply_changes(org, changes(("c8", "d1", RAW, 100, 20, 28, 40)))
    assert got["superseded"] == 1
    assert values(store, org)[100] == 29
    # Same changed_at, smaller id: also older by (changed_at, id).
    got = store.apply_changes(org, changes(("c0", "d1", RAW, 100, 20, 27, 50)))
    assert got["superseded"] == 1 and values(store, org)[100] == 29
    # The watermark never moves back.
    assert store.sync_state(org)["watermark"] == 50


def test_bulk_sharing_one_changed_at_across_pages(seeded):
    store, org, dev, raw = seeded
    # 450 readings in coverage, all corrected at one instant, delivered in pages of 200.
    ts = np.arange(1000, 1450)
    store.commit_window(org, dev, 1000, 2000, np.full(450, raw), ts, (ts * 2).tolist())
    rows = [(f"b{i:04d}", "d1", RAW, int(t), int(t * 2), int(t * 3), 777) for i, t in enumerate(ts)]
    page_counts = []
    for lo in range(0, 450, 200):
        page_counts.append(store.apply_changes(org, changes(*rows[lo : lo + 200]))["applied"])
    assert page_counts == [200, 200, 50]
    # a re-read of all of them (lookback) changes nothing
    assert sum(store.apply_changes(org, changes(*rows)).values()) == 0
    v = values(store, org)
    assert all(v[int(t)] == t * 3 for t in ts)
    state = store.sync_state(org)
    assert state["watermark"] == 777 and len(state["ids_at_watermark"]) == 450
    assert store.scalar("SELECT count(DISTINCT change_id) FROM changes") == 450


def test_text_values_and_deletions(seeded):
    store, org, dev, raw = seeded
    (fw,) = store.field_codes(["meta.firmware"])
    store.commit_window(org, dev, 0, 1000, np.array([fw, fw]), np.array([0, 500]), ["1.8", "1.8"])
    got = store.apply_changes(
        org,
        changes(
            ("f1", "d1", "meta.firmware", 500, "1.8", "1.9", 5), ("r1", "d1", RAW, 0, 10, None, 6)
        ),
    )
    assert got["applied"] == 2
    df = store.read_readings(org)
    assert df.loc[(df["field"] == fw) & (df["ts"] == 500), "value"].item() == "1.9"
    assert not ((df["field"] == raw) & (df["ts"] == 0)).any()


def test_failed_page_rolls_back_everything(seeded, monkeypatch):
    store, org, dev, raw = seeded
    before = values(store, org)

    def boom(*a, **k):
        raise RuntimeError("killed mid-page")

    monkeypatch.setattr(store, "_advance_watermark", boom)  # the last step of the page
    with pytest.raises(RuntimeError, match="mid-page"):
        store.apply_changes(org, changes(("c1", "d1", RAW, 100, 20, 21, 9)))
    monkeypatch.undo()
    assert values(store, org) == before
    assert store.scalar("SELECT count(*) FROM changes") == 0
    assert store.sync_state(org)["watermark"] is None
    assert store.apply_changes(org, changes(("c1", "d1", RAW, 100, 20, 21, 9)))["applied"] == 1


def test_baseline_records_without_touching_readings(seeded):
    store, org, dev, raw = seeded
    got = store.apply_changes(org, changes(("c1", "d1", RAW, 100, 1, 2, 9)), baseline=True)
    assert got["baseline"] == 1
    assert values(store, org)[100] == 20
    assert store.sync_state(org)["watermark"] == 9
    # seen once: a later re-read does not apply it
    assert sum(store.apply_changes(org, changes(("c1", "d1", RAW, 100, 1, 2, 9))).values()) == 0


# ---------------------------------------------------------------------------- property
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def change_streams(draw):
    """Changes of a few readings (some outside the coverage [0, 1000)), then the way they
    reach the mirror: in API order, cut into pages, with re-reads (lookback) and some rows
    held back to a later page (replication lag)."""
    n = draw(st.integers(1, 40))
    rows = []
    for i in range(n):
        ts = draw(st.sampled_from([0, 100, 200, 300, 5000]))
        rows.append(
            (f"c{i:03d}", "d1", RAW, ts, draw(st.integers(0, 9)), draw(st.integers(0, 9)),
             draw(st.integers(1, 15)))
        )  # fmt: skip
    ordered = sorted(rows, key=lambda r: (r[6], r[0]))
    late = draw(st.sets(st.sampled_from(range(n)), max_size=n // 3))
    first = [r for k, r in enumerate(ordered) if k not in late]
    stream = first + [ordered[k] for k in sorted(late)]
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=5)))
    pages = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    replay = draw(st.lists(st.sampled_from(range(len(pages))), max_size=3))
    return rows, pages + [pages[k] for k in replay]


@settings(max_examples=60, deadline=None)
@given(change_streams())
def test_any_delivery_ends_with_the_last_change_per_reading(tmp_path_factory, stream):
    rows, pages = stream
    store = Store(tmp_path_factory.mktemp("p") / "m.sqlite")
    org = store.org_code("org-1")
    store.upsert_devices(org, pd.DataFrame({"multiplier": [1.0]}, index=pd.Index(["d1"])))
    (dev,) = store.device_codes(["d1"])
    (raw,) = store.field_codes([RAW])
    store.ensure_coverage(org, int(dev), 0)
    store.commit_window(org, int(dev), 0, 1000, np.full(3, raw), np.array([0, 100, 200]), [1, 2, 3])
    store.init_sync_state(org, 0)
    for page in pages:
        store.apply_changes(org, changes(*page))
    # independent expectation: the initial readings, then per reading the change that is
    # last by (changed_at, change_id) among those inside the coverage
    expected = {0: 1, 100: 2, 200: 3}
    for r in sorted(rows, key=lambda r: (r[6], r[0])):
        if r[3] < 1000:
            expected[r[3]] = r[5]
    assert values(store, org) == expected
    # each change recorded exactly once; out-of-range ones never create readings
    assert store.scalar("SELECT count(*) FROM changes") == len(rows)
    assert store.scalar("SELECT count(*) FROM readings WHERE ts >= 1000") == 0
    assert store.sync_state(org)["watermark"] == max(r[6] for r in rows)
    store.close()
