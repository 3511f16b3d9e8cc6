# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3 · Anomalies: what is wrong in the portfolio, and what was fixed later
#
# `wf.flag_anomalies` adds one boolean column per rule to a telemetry frame. We scan the
# whole portfolio for a few weeks, look for a leak in the water meters, look at misreads
# and how the vendor corrected them afterwards, and check batteries and radio links.

# %% tags=["parameters"]
org = None  # None: $WALTERO_ORG, else the first organization you can read
scan_window = ("2026-10-10", "2026-11-09T22:00")  # local time; under 31 days: 1 call/meter
leak_window = ("2026-09-01", "2026-09-15")  # local days scanned for leaks (water meters)

# %%
import os

import matplotlib.pyplot as plt
import pandas as pd

import waltero_frames as wf
from waltero_frames.analysis.anomalies import anomaly_events
from waltero_frames.notebook.connect import connect

client, sim = connect(progress=False)  # no progress bars in reports
orgs = wf.organizations(client)
org = org or os.environ.get("WALTERO_ORG") or orgs.index[0]
tz = orgs.loc[org, "timezone"]
devices = wf.devices(client, org, details=True)
FLAGS = list(wf.plots.FLAG_STYLES)
FIELDS = [
    "meter.value.raw",
    "meter.value.processed",
    "battery.voltage",
    "battery.level",
    "connection.rssi",
]
print(f"{orgs.loc[org, 'name']}: {len(devices)} devices, time zone {tz}")


# %% [markdown]
# ## Flags across the portfolio
# Every device, every default field plus `battery.level` (older sensor variants do not
# have it: the column is NaN for them).

# %%
readings = wf.telemetry(client, devices, *scan_window, fields=FIELDS, tz=tz)
flags = wf.flag_anomalies(readings)
print(f"{len(readings):,} rows from {readings['device_id'].nunique()} devices")
per_flag = pd.DataFrame(
    {
        "rows": flags[FLAGS].sum(),
        "devices": flags.groupby("device_id")[FLAGS].any().sum(),
    }
)
per_flag


# %% [markdown]
# The same as episodes (one row per run of flagged readings, pecos-style):

# %%
events = anomaly_events(flags).join(devices[["label", "meter_type"]], on="device_id")
events

# %% [markdown]
# ## A leak: water flowing every night
# `night_flow` marks water meters whose night flow sits on a flat, non-zero floor for
# several nights in a row: a leak is a constant flow, so the lowest hour of the night is
# close to the night's mean. It needs no weeks before the leak: a leak already running on
# the first night of the scan is flagged from that night on. Scan the water meters:

# %%
water = devices[devices["meter_type"].isin(["water_cold", "water_hot"])]
wreadings = wf.telemetry(client, water, *leak_window, fields=["meter.value.raw"], tz=tz)
wflags = wf.flag_anomalies(wreadings)
leaks = anomaly_events(wflags, rules=["night_flow"])
leaks = leaks.join(devices[["label", "meter_type"]], on="device_id")
leaks

# %% [markdown]
# The same question asked directly, the way water utilities do it: the **minimum night
# flow** — the smallest hourly consumption between 01:00 and 05:00 local time, per night.
# A flat that sleeps has hours of zero; a leak never lets it reach zero. (A building's main
# inlet never rests either: it carries every flat, the leaking one included; but its draw
# comes and goes, its quietest hour far below its night mean, so `night_flow` leaves it out.)

# %%
wcons = wf.readings_to_consumption(wreadings)
hourly = wf.resample_consumption(wcons, "h", tz=tz, method="interpolate")
local = hourly.index.tz_convert(tz)
is_night = (local.hour >= 1) & (local.hour < 5)
night = hourly[is_night]
mnf = night.groupby(["device_id", local[is_night].date])["consumption"].min().unstack()
nights = mnf.shape[1]
flowing = pd.DataFrame(
    {
        "nights never at zero": (mnf > 0).sum(axis=1),
        "median night minimum": mnf.median(axis=1),
        "flagged night_flow": mnf.index.isin(leaks["device_id"]),
    }
).join(devices[["label", "unit", "multiplier"]])
suspects = flowing[flowing["nights never at zero"] >= min(7, nights)]
suspects.sort_values("median night minimum")

# %%
for leaky in suspects.sort_values("median night minimum").index[:2]:
    wf.plots.carpet(
        wcons[wcons["device_id"] == leaky],
        tz=tz,
        devices=devices,
        title=f"{devices.loc[leaky, 'label']}: never rests at night",
    )
    plt.show()

# %% [markdown]
# ## Misreads and their later corrections
# The optical reader sometimes misreads a digit. The vendor corrects the stored reading
# later — a person (`user`) or a re-recognition job (`system`) — and logs it in the
# data-audit changelog. Telemetry always returns the *current* values, so a corrected
# misread is gone from it; the changelog keeps the wrong value in `previous_value`.

# %%
changes = wf.changes(client, org, since="2025-12-01")
raw_changes = changes[changes["field"] == "meter.value.raw"].copy()
raw_changes["jump"] = (raw_changes["previous_value"] - raw_changes["new_value"]).abs()
raw_changes["delay"] = raw_changes.index - raw_changes["timestamp"]
misreads = raw_changes.join(devices[["label"]], on="device_id")
misreads.groupby(["device_id", "label", "actor"]).agg(
    corrections=("change_id", "size"),
    first_reading=("timestamp", "min"),
    median_delay=("delay", "median"),
)

# %% [markdown]
# The largest single correction, on the register chart: the green segment goes from the
# misread value to the corrected one; the line is what telemetry returns today.

# %%
if len(misreads):
    worst = misreads.sort_values("jump").iloc[-1]
    dev, at = worst["device_id"], worst["timestamp"]
    around = wf.telemetry(
        client,
        devices.loc[[dev]],
        at - pd.Timedelta("2D"),
        at + pd.Timedelta("2D"),
        fields=["meter.value.raw"],
    )
    wf.plots.register(
        around, flags=wf.flag_anomalies(around, tz=tz), changes=changes, devices=devices
    )
    plt.show()
    print(
        f"{devices.loc[dev, 'label']}: reading at {at} was {worst['previous_value']:.0f}, "
        f"corrected to {worst['new_value']:.0f} by {worst['actor']} "
        f"{worst['delay']} later"
    )

# %% [markdown]
# Misreads still visible in the scan window are *open*: the `spike` flag finds them.

# %%
open_spikes = events[events["rule"] == "spike"]
open_spikes

# %%
for dev in open_spikes["device_id"].unique()[:2]:
    at = open_spikes.loc[open_spikes["device_id"] == dev, "start"].iloc[0]
    mine = flags[(flags["device_id"] == dev) & (abs(flags.index - at) < pd.Timedelta("1D"))]
    wf.plots.register(mine, flags=mine, devices=devices)
    plt.show()

# %% [markdown]
# ## Batteries and radio links

# %%
health = readings.groupby("device_id").agg(
    battery_v_min=("battery.voltage", "min"),
    battery_level_last=("battery.level", "last"),
    rssi_median=("connection.rssi", "median"),
)
health = health.join(flags.groupby("device_id")[["low_battery", "weak_signal"]].any())
health = health.join(devices[["label", "variant"]])
health[health["low_battery"] | health["weak_signal"]]

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.8), layout="constrained")
for dev in health.index[health["weak_signal"]]:
    s = readings.loc[readings["device_id"] == dev, "connection.rssi"].dropna()
    ax1.plot(s.index, s.to_numpy(), lw=0.8, label=devices.loc[dev, "label"])
ax1.set(title="Radio: weak links", ylabel="connection.rssi [dBm]", xlabel="time (UTC)")
for dev in health.index[health["low_battery"]]:
    s = readings.loc[readings["device_id"] == dev, "battery.level"].dropna()
    if s.empty:
        s = readings.loc[readings["device_id"] == dev, "battery.voltage"].dropna()
    ax2.plot(s.index, s.to_numpy(), lw=0.8, label=devices.loc[dev, "label"])
ax2.set(title="Batteries: low", ylabel="battery.level [%] / voltage [V]", xlabel="time (UTC)")
for ax in (ax1, ax2):
    if ax.lines:
        ax.legend(fontsize="small")
fig.autofmt_xdate()
plt.show()
