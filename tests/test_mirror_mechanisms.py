"""The mirror shares the client's mechanisms: the changelog pager and parser, the error
family, the device-selection rule and the "same value" rule for conflicts."""

from __future__ import annotations

import pandas as pd
import pytest

import waltero_frames as wf
from waltero_frames.mirror import changelog
from waltero_frames.sim import DEMO_ORG

RAW = "meter.value.raw"
START, END = "2026-06-01T00:00Z", "2026-06-01T06:00Z"


def corrupt_changelog(monkeypatch, change):
    """Answer every changelog request with the server's first page passed through
    ``change(body)`` (the cursors ``change`` makes up mean nothing to the server)."""
    real = changelog.ep.changes_page

    def wrapper(client, org, since, cursor, limit):
        return change(real(client, org, since, None, limit))

    monkeypatch.setattr(changelog.ep, "changes_page", wrapper)


def test_a_changelog_row_that_is_not_an_object_fails_the_sync(
    sim, tmp_path, monkeypatch, make_client
):
    """Was silently dropped by the mirror's own parser; wf.changes raises on it."""
    corrupt_changelog(monkeypatch, lambda body: {**body, "data": [*body["data"], "oops"]})
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    with pytest.raises(wf.UnexpectedResponse, match="JSON objects"):
        mirror.sync(make_client(), DEMO_ORG, START, END)
    runs = mirror.runs()
    assert runs["status"].tolist() == ["failed"]
    assert runs["error"].iloc[0].startswith("UnexpectedResponse")


def test_except_walteroerror_catches_a_failed_sync(sim, tmp_path, monkeypatch, make_client):
    """A changelog that keeps answering the same full page under fresh cursors."""
    stalled = {"n": 0}

    def same_page(body):
        stalled["n"] += 1
        first = {
            "id": "c-0",
            "deviceId": sim.world.devices.index[0],
            "field": "meter.value.raw",
            "timestamp": "2026-06-01T00:00:00Z",
            "previousValue": 1,
            "newValue": 2,
            "actor": "user",
            "changedAt": "2026-06-01T00:00:00Z",
        }
        rows = [{**first, "id": f"c-{i}"} for i in range(changelog.PAGE_LIMIT)]
        return {"data": rows, "nextCursor": f"cursor-{stalled['n']}"}

    corrupt_changelog(monkeypatch, same_page)
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    caught = None
    try:
        mirror.sync(make_client(), DEMO_ORG, START, END)
    except wf.WalteroError as exc:
        caught = exc
    assert isinstance(caught, wf.SyncError) and "no progress" in str(caught)
    assert isinstance(caught, RuntimeError)  # what it was before; old handlers still work
    assert stalled["n"] == 2  # the second page, a repeat, stops the sync
    assert wf.mirror.SyncError is wf.SyncError is changelog.SyncError
    assert mirror.runs()["status"].tolist() == ["failed"]


def test_a_repeated_changelog_cursor_is_an_unexpected_response(
    sim, tmp_path, monkeypatch, make_client
):
    """The cursor pager's loop detection now guards the mirror too."""
    corrupt_changelog(monkeypatch, lambda b: {"data": b["data"][:5], "nextCursor": "same"})
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    with pytest.raises(wf.UnexpectedResponse, match="loops"):
        mirror.sync(make_client(), DEMO_ORG, START, END)


def test_changelog_pages_keep_text_and_numbers_apart():
    page = changelog.parse_changes(
        [
            {"id": "a", "deviceId": "d", "field": "meta.firmware", "timestamp": "2026-01-01T00:00:00Z",
             "previousValue": "1.8", "newValue": "1.10", "actor": "u",
             "changedAt": "2026-01-02T00:00:00Z"},
            {"id": "b", "deviceId": "d", "field": "meter.value.raw", "timestamp": "2026-01-01T00:00:00Z",
             "previousValue": 7, "newValue": 8, "actor": "u",
             "changedAt": "2026-01-02T00:00:00Z"},
        ]
    )  # fmt: skip
    assert isinstance(page, pd.DataFrame) and page.index.name == "changed_at"
    assert page["new_value"].tolist() == ["1.10", 8.0]
    assert isinstance(page["new_value"].iloc[1], float)


def test_readings_take_the_device_selections_of_telemetry(sim, tmp_path, make_client):
    """Defect 2: a frame with a device_id column raised "devices not in the mirror"."""
    client = make_client()
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    mirror.sync(client, DEMO_ORG, START, END)
    devs = wf.devices(client, DEMO_ORG)
    picked = list(devs.index[[5, 2]])
    fields = ["meter.value.raw", "battery.voltage"]
    # a frame with a device_id column (here a reset devices frame, repeated rows included)
    table = pd.concat([devs.loc[picked].reset_index()] * 2, ignore_index=True)
    api = wf.telemetry(client, table, START, END, fields)
    by_ids = mirror.readings(DEMO_ORG, START, END, picked, fields=fields)
    # the same positional order and keyword names as wf.telemetry
    for selection in (table, devs.loc[picked], pd.Series(picked), picked[::-1] + picked):
        got = mirror.readings(DEMO_ORG, START, END, selection, fields=fields, tz="UTC")
        pd.testing.assert_frame_equal(got, by_ids)
    assert sorted(set(by_ids["device_id"])) == sorted(picked)
    pd.testing.assert_frame_equal(by_ids[api.columns], api, check_dtype=False)
    # a daily_consumption frame (device_id column, period index) selects its devices too
    daily = wf.daily_consumption(client, DEMO_ORG, "2026-06-01", "2026-06-02")
    one = daily[daily["device_id"] == picked[0]]
    got = mirror.readings(DEMO_ORG, START, END, devices=one, fields=fields)
    assert (
        set(got["device_id"]) == {picked[0]} and len(got) == (api["device_id"] == picked[0]).sum()
    )
    with pytest.raises(ValueError, match="devices=3"):
        mirror.readings(DEMO_ORG, START, END, 3)


def test_one_same_value_rule_for_apply_changes_and_the_mirror(sim, tmp_path, client):
    """A held value 1e-12 relative away from previous_value is the same value (applied);
    1e-6 away is a conflict: through wf.apply_changes and through a mirror sync alike."""
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    mirror.sync(client, DEMO_ORG, START, END)
    dev = sim.world.devices.index[sim.world.devices["organization_id"] == DEMO_ORG][4]
    ts, raw = sim.world.window(dev, RAW, START, END)
    picks = {"same": (1, 1e-12), "conflict": (4, 1e-6)}
    held = {name: float(raw[i]) * (1 + rel) for name, (i, rel) in picks.items()}
    assert held["same"] != raw[1]  # really different floats, not equal after rounding
    # the local copies drift by those amounts ...
    frame = wf.telemetry(client, dev, START, END, [RAW])
    (code,) = mirror.store.device_codes([dev])
    (raw_code,) = mirror.store.field_codes([RAW])
    with mirror.store.transaction() as con:
        for name, (i, _) in picks.items():
            con.execute(
                "UPDATE readings SET value=? WHERE device=? AND field=? AND ts=?",
                (held[name], int(code), int(raw_code), int(ts[i])),
            )
            frame.loc[frame.index.asi8 // 1000 == int(ts[i]), RAW] = held[name]
    # ... and the server corrects both readings
    rows = {
        name: sim.add_correction(
            dev, RAW, pd.Timestamp(int(ts[i]), unit="ms", tz="UTC"), int(raw[i]) + 5
        )
        for name, (i, _) in picks.items()
    }
    ids = {name: r[0]["change_id"] for name, r in rows.items()}
    report = mirror.sync(client, DEMO_ORG, START, END)
    log = mirror.changes(DEMO_ORG).set_index("change_id")
    assert log.at[ids["same"], "outcome"] == "applied"
    assert log.at[ids["conflict"], "outcome"] == "conflict"
    assert report.conflicts == 1
    log = wf.changes(client, DEMO_ORG, START)
    out = wf.apply_changes(frame, log[log["change_id"].isin(list(ids.values()))])
    assert out.attrs["conflicts"]["change_id"].tolist() == [ids["conflict"]]
    for i in (1, 4):  # both applied anyway, in both
        at = out.index.asi8 // 1000 == int(ts[i])
        assert out.loc[at, RAW].tolist() == [raw[i] + 5]
    assert mirror.readings(DEMO_ORG, START, END, dev, fields=[RAW])[RAW].tolist() == (
        out[RAW].tolist()
    )
