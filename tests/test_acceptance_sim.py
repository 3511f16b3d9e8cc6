"""Acceptance findings on the simulator, each pinned by a regression test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import waltero_frames as wf
from waltero_frames.sim.cli import main as sim_cli

DEV = "11111111-1111-1111-1111-111111111101"  # 15-min cadence: a reading at every :00
ORG = "00000000-0000-0000-0000-000000000001"


def test_truth_reads_sub_millisecond_bounds_like_the_server(world):
    # readings sit on whole ms; [start, end) with a sub-ms bound was floored to the ms,
    # so the truth kept a reading 0.5 ms before start and dropped one 0.5 ms before end
    ts, _ = world.window(DEV, "meter.value.raw", "2026-05-01T00:00Z", "2026-05-01T01:00Z")
    hour = pd.to_datetime(ts, unit="ms", utc=True)
    assert hour[0] == pd.Timestamp("2026-05-01T00:00Z") and len(hour) == 4
    start, end = "2026-04-30T23:59:59.9995Z", "2026-05-01T01:00:00.0005Z"
    ts, _ = world.window(DEV, "meter.value.raw", start, end)
    got = pd.to_datetime(ts, unit="ms", utc=True)
    assert got[0] == pd.Timestamp("2026-05-01T00:00Z")  # 23:59:59.999 is before start
    assert got[-1] == pd.Timestamp("2026-05-01T01:00Z")  # 01:00:00.000 is before end
    truth = world.telemetry_truth([DEV], start, end, fields=["meter.value.raw"])
    assert len(truth) == 5
    rows = world.daily_consumption_rows(ORG, start, end, "day")
    same = world.daily_consumption_rows(ORG, "2026-05-01T00:00Z", "2026-05-01T01:00:00.001Z", "day")
    assert rows == same


def test_truth_equals_the_served_telemetry_for_sub_ms_bounds(waltero_sim):
    waltero_sim.config.rate = None
    client = wf.Client(waltero_sim.base_url, waltero_sim.username, waltero_sim.password)
    start, end = "2026-01-31T23:59:59.9995Z", "2026-03-04T00:00:00.0005Z"  # two windows
    got = wf.telemetry(client, [DEV], start, end)
    truth = waltero_sim.world.telemetry_truth([DEV], start, end)
    assert len(got) == len(truth) > 0
    assert np.array_equal(got.index.asi8, truth.index.as_unit("us").asi8)
    np.testing.assert_array_equal(got["value"].to_numpy(), truth["value"].to_numpy())


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_cli_refuses_a_port_out_of_range(port, capsys):
    with pytest.raises(SystemExit) as info:
        sim_cli(["serve", "--port", port])
    assert info.value.code == 2
    assert "port must be 0..65535" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            '{"bogus": 1}',
            "unknown knob(s) ['bogus']; known: ['burst', 'clock'",
        ),  # was a TypeError text
        ("nope", "--config-json is not JSON"),  # was only "Expecting value: line 1 column 1"
        ("[1]", "--config-json must be a JSON object"),
    ],
)
def test_cli_names_a_bad_config_json(config, message, capsys):
    assert sim_cli(["serve", "--port", "0", "--config-json", config]) == 2
    assert message in capsys.readouterr().err
