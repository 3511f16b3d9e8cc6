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
# # 2 · Raw readings: registers, multipliers, local days and DST
#
# Part 1 hands out consumption per **UTC** day. Anything else — the organization's local
# days, hours, other fields — comes from the raw telemetry (Part 2). This notebook reads
# it, checks `value` against `meter.value.processed`, rebuilds Part 1's numbers from the
# registers to the last digit, and then moves to local days across both DST changes.

# %% tags=["parameters"]
org = None  # None: $WALTERO_ORG, else the first organization you can read
device = "11111111-1111-1111-1111-111111111101"  # the guide's example meter
spring = ("2026-03-26", "2026-04-01")  # local days around the spring DST change
autumn = ("2026-10-22", "2026-10-28")  # … and the autumn one
mismatch_window = ("2026-04-18", "2026-04-29")  # where to look for multiplier trouble
mismatch_type = "water_hot"

# %%
import os

import matplotlib.pyplot as plt
import pandas as pd

import waltero_frames as wf
from waltero_frames.notebook.connect import connect

client, sim = connect(progress=False)  # no progress bars in reports
orgs = wf.organizations(client)
org = org or os.environ.get("WALTERO_ORG") or orgs.index[0]
tz = orgs.loc[org, "timezone"]
devices = wf.devices(client, org, details=True)
if device not in devices.index:  # another tenant: take its first meter
    device = devices.index[0]
print(f"{orgs.loc[org, 'name']} ({tz}); device {devices.loc[device, 'label']!r}")


# %% [markdown]
# ## Which fields does a device have?

# %%
wf.fields(client, [device]).groupby("group")["field"].apply(list).to_frame()

# %% [markdown]
# ## Telemetry
# The default fields are the register (`meter.value.raw`), the value the dashboard shows
# (`meter.value.processed`), battery voltage and radio RSSI. Fields come on their own
# clocks, so a row can hold a register without a battery reading and vice versa. `value`
# is `raw × multiplier`, in display units.

# %%
readings = wf.telemetry(client, devices.loc[[device]], spring[0], spring[1], tz=tz)
readings.head(8)

# %% [markdown]
# ## `value` vs `meter.value.processed`
# `processed` is already in display units — multiplying it again (as one line of the
# vendor's guide suggests) would be off by the multiplier. Per distinct multiplier, one
# meter:

# %%
sample = devices.reset_index().drop_duplicates("multiplier").set_index("device_id").head(4)
few = wf.telemetry(
    client, sample, spring[0], spring[1], fields=["meter.value.raw", "meter.value.processed"], tz=tz
)
check = few.groupby("device_id").agg(
    raw=("meter.value.raw", "last"),
    value=("value", "last"),
    processed=("meter.value.processed", "last"),
)
check = check.join(sample[["label", "unit", "multiplier"]])
check["value - processed"] = (check["value"] - check["processed"]).abs()
check

# %%
assert (check["value - processed"] < 1e-6).all(), "processed disagrees with raw x multiplier"

# %% [markdown]
# Where they disagree the meter was configured wrongly for a while. Scan one meter type
# over a window and flag `multiplier_mismatch`:

# %%
scan = devices[devices["meter_type"] == mismatch_type]
raw = wf.telemetry(
    client, scan, *mismatch_window, fields=["meter.value.raw", "meter.value.processed"], tz=tz
)
flags = wf.flag_anomalies(raw)
hits = flags[flags["multiplier_mismatch"]]
summary = hits.groupby("device_id").agg(
    first=("value", lambda s: s.index.min()),
    last=("value", lambda s: s.index.max()),
    readings=("value", "size"),
)
summary.join(devices[["label", "multiplier"]])

# %%
if len(hits):
    bad = hits["device_id"].iloc[0]
    one = raw[raw["device_id"] == bad]
    ratio = (one["meter.value.processed"] / one["meter.value.raw"]).rename("processed / raw")
    ax = ratio.plot(figsize=(9, 3), title=f"processed / raw — {devices.loc[bad, 'label']}")
    ax.set_ylabel("ratio [–]")
    ax.set_xlabel("time (UTC)")
    plt.show()

# %% [markdown]
# ## Part 1 rebuilt from the registers
# Part 1 attributes each register delta to the UTC day of its later reading. The same
# rule (`method="attribute"`) on UTC days must give Part 1's numbers exactly. The readings
# start a day early so the first day's first delta has its previous reading.

# %%
utc_start = pd.Timestamp(spring[0], tz="UTC")
utc_end = pd.Timestamp(spring[1], tz="UTC")
regs = wf.telemetry(
    client, sample, utc_start - pd.Timedelta("1D"), utc_end, fields=["meter.value.raw"]
)
cons = wf.readings_to_consumption(regs)
mine = wf.resample_consumption(cons, "D", tz="UTC")
mine = mine[(mine.index >= utc_start) & (mine.index < utc_end)]
part1 = wf.daily_consumption(client, org, utc_start, utc_end)
part1 = part1[part1["device_id"].isin(sample.index)]
both = mine.reset_index().merge(
    part1.reset_index(), on=["period_start", "device_id"], suffixes=("_registers", "_part1")
)[["period_start", "device_id", "consumption_registers", "consumption_part1"]]
both["difference"] = (both["consumption_registers"] - both["consumption_part1"]).round(6)
print(len(both), "device-days compared; largest difference", both["difference"].abs().max())
assert len(both) == len(part1) and (both["difference"] == 0).all()
both.head()

# %% [markdown]
# ## Local days and DST
# The organization lives in its own time zone. `resample_consumption(..., tz=tz)` cuts
# local days; on the spring change the local day is 23 h long, on the autumn change 25 h.
# `period_start` stays a UTC instant (22:00Z in summer, 23:00Z in winter, for Berlin).

# %%
local = wf.resample_consumption(cons, "D", tz=tz)
one = local[local["device_id"] == sample.index[0]].copy()
one["local day"] = one.index.tz_convert(tz).strftime("%a %Y-%m-%d")
one["hours"] = (one.index.to_series().shift(-1) - one.index.to_series()).dt.total_seconds() / 3600
one[["local day", "consumption", "n_readings", "coverage", "hours"]]

# %%
utc_days = wf.resample_consumption(cons, "D", tz="UTC")
print(
    f"all register deltas: {cons['consumption'].sum():.3f}; over UTC days: "
    f"{utc_days['consumption'].sum():.3f}; over local days: {local['consumption'].sum():.3f}"
    " — the same water, cut at different instants"
)

# %% [markdown]
# ### Hour by hour: carpet plots in local time
# One row per local day. On the spring-forward day the 02:00 hour does not exist (blank);
# on the autumn day 02:00 happens twice and its cell holds both hours.

# %%
elec = devices.index[devices["meter_type"] == "electricity"][0]
fig, axes = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
grids = []
for ax, (first, last) in zip(axes, [spring, autumn], strict=True):
    day0 = pd.Timestamp(first)  # one day earlier: the first hour's first delta needs it
    r = wf.telemetry(
        client,
        devices.loc[[elec]],
        day0 - pd.Timedelta("1D"),
        last,
        fields=["meter.value.raw"],
        tz=tz,
    )
    c = wf.readings_to_consumption(r)
    c = c[c.index >= day0.tz_localize(tz)]
    wf.plots.carpet(
        c, tz=tz, devices=devices, ax=ax, title=f"{devices.loc[elec, 'label']}: {first} … {last}"
    )
    grids.append(wf.plots.carpet_matrix(c, tz=tz))
plt.show()

# %% [markdown]
# The two DST days, 01:00–03:59 local: on 29 March 02:00 is empty; on 25 October the 02:00
# cell holds both of its hours.

# %%
dst = pd.concat(grids).loc[[pd.Timestamp("2026-03-29"), pd.Timestamp("2026-10-25")], [1, 2, 3]]
dst.round(2)

# %% [markdown]
# ## Explore interactively
# Pick an organization, search a meter by name or serial number, choose the days and the
# resolution: the plot and the table follow. (Widgets need a live kernel; in the HTML
# export only the state at the time of the run shows, so every plot above is an ordinary
# cell.)

# %%
explorer = wf.widgets.Explorer(client, org=org, start=spring[0], end=spring[1], resolution="day")
explorer.search.value = devices.loc[device, "serial_number"]
explorer

# %%
explorer.table
