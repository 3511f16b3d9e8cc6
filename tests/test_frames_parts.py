"""Telemetry windows reduced to arrays as they arrive (``frames.telemetry_part``).

``wf.telemetry`` no longer keeps every window's decoded JSON until the end (bench profile:
~1.1 GB per million rows and a 2x per-reading slowdown at scale); each window is reduced
in the worker. These tests hold the reduced path to the World's ground truth and to the
payload path, and check that the fetch really hands parts to the parser.
"""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pytest

import waltero_frames as wf
from waltero_frames.api import fetch
from waltero_frames.api import parse as frames
from waltero_frames.api.paging import split_range
from waltero_frames.errors import UnexpectedResponse
from waltero_frames.sim.app.app import create_app
from waltero_frames.sim.world.model import World

FIELDS = list(frames.DEFAULT_FIELDS)
START = pd.Timestamp("2026-03-20T00:00Z")  # two windows, across the March DST change
END = pd.Timestamp("2026-04-25T00:00Z")


@pytest.fixture(scope="module")
def world_bodies():
    world = World.for_seed(0)
    _, state = create_app(world)
    ids = list(world.devices.index[:4])
    bodies = []
    for d in ids:
        for w0, w1 in split_range(START, END):
            raw = state.telemetry_body(d, FIELDS, w0.value // 10**6, w1.value // 10**6)
            bodies.append((d, raw))
    mult = world.devices["multiplier"].astype(float).to_dict()
    return world, ids, bodies, mult


def test_parts_give_the_world_truth(world_bodies):
    world, ids, bodies, mult = world_bodies
    parts = [(d, frames.telemetry_part(d, orjson.loads(b))) for d, b in bodies]
    got = frames.parse_telemetry(parts, fields=FIELDS, start=START, end=END, multipliers=mult)
    truth = world.telemetry_truth(ids, START, END, FIELDS)
    assert len(got) == len(truth) > 4 * 35 * 24
    np.testing.assert_array_equal(got.index.asi8, truth.index.as_unit("us").asi8)
    assert got["device_id"].tolist() == truth["device_id"].tolist()
    for col in [*FIELDS, "value"]:
        np.testing.assert_array_equal(got[col].to_numpy(), truth[col].to_numpy(), err_msg=col)


def test_parts_equal_payloads_in_any_order_and_mixed(world_bodies):
    _, _, bodies, mult = world_bodies
    payloads = [(d, orjson.loads(b)) for d, b in bodies]
    parts = [(d, frames.telemetry_part(d, p)) for d, p in payloads]
    want = frames.parse_telemetry(payloads, fields=FIELDS, multipliers=mult)
    mixed = [parts[k] if k % 2 else payloads[k] for k in range(len(parts))][::-1]
    for given in (parts, mixed, parts + parts[:3]):  # repeated windows land once
        got = frames.parse_telemetry(given, fields=FIELDS, multipliers=mult)
        pd.testing.assert_frame_equal(got, want)


def test_part_holds_arrays_not_point_dicts():
    payload = {
        "deviceId": "d1",
        "fields": {
            "meter.value.raw": [
                {"ts": "2026-05-01T00:00:00.000Z", "value": 1200},
                {"ts": "2026-05-01T01:00:00+01:00", "value": 1201},  # same instant
            ],
            "meta.firmware": [{"ts": "2026-05-01T00:00:00.000Z", "value": "2.1.0"}],
            "battery.voltage": [],
        },
    }
    part = frames.telemetry_part("d1", payload)
    ts, values = part.fields["meter.value.raw"]
    assert ts.dtype == np.int64 and ts.tolist() == [1_777_593_600_000_000] * 2
    assert values == [1200, 1201]
    assert part.fields["meta.firmware"][1] == ["2.1.0"]
    assert part.fields["battery.voltage"][0].size == 0
    df = frames.parse_telemetry([("d1", part)], multipliers={"d1": 0.001})
    assert len(df) == 1 and df["meta.firmware"].iloc[0] == "2.1.0"


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"deviceId": "d1"}, "no 'fields'"),
        ({"deviceId": "d2", "fields": {}}, "answered for device 'd2'"),
        ({"fields": {"battery.voltage": [{"ts": "2026-05-01T00:00Z"}]}}, "need 'ts' and 'value'"),
        ({"fields": {"battery.voltage": [{"ts": "yesterday", "value": 3.6}]}}, "unparsable"),
    ],
)
def test_malformed_window_kept_for_the_parser_to_refuse(bad, match):
    with pytest.raises(UnexpectedResponse, match=match):
        frames.telemetry_part("d1", bad)
    assert fetch._reduced("d1", bad) is bad  # the fetch keeps it as it came ...
    with pytest.raises(UnexpectedResponse, match=match):  # ... and the parser refuses it
        frames.parse_telemetry([("d1", bad)], fields=["battery.voltage"], multipliers={})


def test_part_for_another_device_is_refused():
    part = frames.telemetry_part("d1", {"deviceId": "d1", "fields": {}})
    with pytest.raises(UnexpectedResponse, match="answered for device 'd1'"):
        frames.parse_telemetry([("d2", part)], multipliers={})


def test_fetch_hands_parts_to_the_parser(waltero_sim, monkeypatch):
    waltero_sim.config.rate = None
    seen = []
    real = frames.parse_telemetry

    def spy(payloads, **kw):
        payloads = list(payloads)
        seen.extend(type(p) for _, p in payloads)
        return real(payloads, **kw)

    monkeypatch.setattr(frames, "parse_telemetry", spy)
    world = waltero_sim.world
    ids = list(world.devices.index[:3])
    with wf.Client(
        waltero_sim.base_url, waltero_sim.username, waltero_sim.password, progress=False
    ) as c:
        df = wf.telemetry(c, ids, START, END)
    assert seen and set(seen) == {frames.TelemetryPart}
    truth = world.telemetry_truth(ids, START, END)
    np.testing.assert_array_equal(df["value"].to_numpy(), truth["value"].to_numpy())


def test_sim_body_bytes_unchanged_by_shared_stamps(world_bodies):
    """The simulator formats a meter's shared stamps once; the bytes are those of the
    per-field formatting (every device of the World, every supported field)."""
    from waltero_frames.sim.app.common import iso_ms_array

    world = world_bodies[0]
    _, state = create_app(world)
    lo, hi = START.value // 10**6, END.value // 10**6
    wanted = [*FIELDS, "meta.firmware", "connection.snr"]
    for device in world.devices.index:
        supported = state.catalog.device_fields[device]
        out = {}
        for name in wanted:
            if name in supported:
                ts, values = world.window(device, name, START, END)
                out[name] = [
                    {"ts": t, "value": v}
                    for t, v in zip(iso_ms_array(ts), np.asarray(values).tolist(), strict=True)
                ]
        want = orjson.dumps({"deviceId": device, "fields": out})
        assert state.telemetry_body(device, wanted, lo, hi) == want, device
