# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
#   waltero:
#     report: true
# ---

# %% [markdown]
# # 5 · Monthly energy report
#
# A parameterised report for one organization and one month (papermill:
# `papermill 05-energy-report.ipynb out.ipynb -p month 2026-10`; `make report` runs it
# with the defaults). Totals per meter type, top consumers, month over month, data
# completeness and open anomalies.
#
# **Reproducible study.** The report is a `wf.Study`: every API answer and its key
# numbers live in one folder. The committed demo study (`data/studies/energy-report-demo`)
# replays offline — no server, no credentials — and a replay must reproduce the recorded
# numbers exactly. `study_mode="record"` (or `python -m tools.report --refresh-data`)
# records it again; `waltero-frames study verify data/studies/energy-report-demo
# notebooks/05-energy-report.py` checks it.

# %% tags=["parameters"]
org = None  # None: $WALTERO_ORG, else the first organization you can read
month = "2026-11"  # the report month (the organization's calendar month)
top_n = 10
study_path = "../data/studies/energy-report-demo"  # the study folder (answers + numbers)
study_mode = "auto"  # "auto": replay the study when it exists, else record it

# %%
import os

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

import waltero_frames as wf

pd.set_option("display.width", 120)
org = org or os.environ.get("WALTERO_ORG")
study = wf.Study(study_path, params={"org": org, "month": month}, mode=study_mode)
client = study.client(progress=False)

# %%
orgs = wf.organizations(client)
org = org or os.environ.get("WALTERO_ORG") or orgs.index[0]
tz = orgs.loc[org, "timezone"]
devices = wf.devices(client, org, details=True)
# a name for every meter: some have an empty name, then their external id stands in
devices["name"] = devices["name"].where(devices["name"].fillna("") != "", devices["external_id"])
m0 = pd.Period(month, "M")
this_start, this_end = m0.start_time, (m0 + 1).start_time  # local calendar month
prev_start = (m0 - 1).start_time
# a day of readings before the first month gives its first delta its previous reading
fetch_start = prev_start - pd.Timedelta(days=1)
print(f"{orgs.loc[org, 'name']} — {m0.strftime('%B %Y')} ({tz}); {len(devices)} meters")


# %% [markdown]
# ## Consumption per local day
# Part 1 only knows UTC days, so the report computes the organization's local days from
# the registers: one telemetry call per meter and month, consumption = register deltas
# (rollovers unwrapped, multipliers applied), each delta in the local day of its reading
# — Part 1's own rule, in local time. The fetch starts a day early: the first delta of the
# first month needs the reading before it.

# %%
FIELDS = ["meter.value.raw", "battery.level", "connection.rssi"]
readings = wf.telemetry(client, devices, fetch_start, this_end, fields=FIELDS, tz=tz)
cons = wf.readings_to_consumption(readings)
daily = wf.resample_consumption(cons, "D", tz=tz)
TO_BASE = {"MWh": ("kWh", 1000.0)}  # report heat in one unit
unit = devices["unit"].map(lambda u: TO_BASE.get(u, (u, 1.0))[0])
factor = devices["unit"].map(lambda u: TO_BASE.get(u, (u, 1.0))[1])
daily = daily.assign(
    meter_type=daily["device_id"].map(devices["meter_type"]),
    unit=daily["device_id"].map(unit),
    consumption=daily["consumption"] * daily["device_id"].map(factor),
    month=daily.index.tz_convert(tz).tz_localize(None).to_period("M"),
)
this = daily[daily["month"] == m0]
prev = daily[daily["month"] == m0 - 1]

# %% [markdown]
# ## Totals per meter type, month over month


# %%
def by_type(frame: pd.DataFrame) -> pd.Series:
    return frame.groupby(["meter_type", "unit"])["consumption"].sum()


totals = pd.DataFrame({str(m0 - 1): by_type(prev), str(m0): by_type(this)})
totals["change %"] = 100 * (totals[str(m0)] / totals[str(m0 - 1)] - 1)
totals.round(2)

# %%
fig, axes = plt.subplots(1, len(totals), figsize=(2.4 * len(totals), 3.2), layout="constrained")
for ax, ((kind, u), row) in zip(axes, totals.iterrows(), strict=True):
    ax.bar([str(m0 - 1), str(m0)], [row[str(m0 - 1)], row[str(m0)]], color=["#9bb", "#377"])
    ax.set_title(kind, fontsize="medium")
    ax.set_ylabel(f"consumption [{u}]")
fig.suptitle(f"Month over month — {orgs.loc[org, 'name']}")
plt.show()

# %% [markdown]
# ## Top consumers

# %%
per_meter = this.groupby("device_id").agg(
    consumption=("consumption", "sum"), unit=("unit", "first"), meter_type=("meter_type", "first")
)
per_meter = per_meter.join(devices[["name", "serial_number"]])
per_meter["share of type %"] = (
    100 * per_meter["consumption"] / per_meter.groupby("meter_type")["consumption"].transform("sum")
)
top = per_meter.sort_values(["meter_type", "consumption"], ascending=[True, False])
top.groupby("meter_type").head(3).round(2)

# %%
elec = devices.index[devices["meter_type"] == "electricity"]
top_elec = per_meter.loc[per_meter.index.intersection(elec)].nlargest(min(top_n, 4), "consumption")
wf.plots.daily_bars(
    this[this["device_id"].isin(top_elec.index)],
    devices=devices.loc[top_elec.index],
    unit="kWh",
    tz=tz,
    title=f"Daily electricity, top meters — {m0}",
)
plt.show()

# %% [markdown]
# ### Electricity hour by hour
# All electricity meters summed, per local hour of each day of the month.

# %%
elec_cons = cons[cons["device_id"].isin(elec)]
elec_cons = elec_cons[
    (elec_cons.index >= this_start.tz_localize(tz)) & (elec_cons.index < this_end.tz_localize(tz))
]

# %% tags=["readme-image"]
ax = wf.plots.carpet(
    elec_cons, tz=tz, unit="kWh", title=f"Electricity, all meters — {orgs.loc[org, 'name']}, {m0}"
)
plt.show()

# %%
hourly = wf.resample_consumption(cons[cons["device_id"].isin(elec)], "h", tz=tz)
hourly = hourly[
    (hourly.index >= this_start.tz_localize(tz)) & (hourly.index < this_end.tz_localize(tz))
]
wf.plots.load_duration(hourly, unit="kWh", title=f"Load duration, electricity — {m0}")
plt.show()

# %% [markdown]
# ## Data completeness
# Share of each local day backed by readings (`coverage`); a day under 50 % should not be
# billed from its own data.

# %%
this_raw = this.drop(columns=["meter_type", "unit", "month"])
wf.plots.completeness(this_raw, devices=devices, tz=tz, title=f"Data completeness — {m0}")
plt.show()

# %%
days = pd.date_range(this_start, this_end, freq="D", inclusive="left").size
cover = this.groupby("device_id")["coverage"].agg(["mean", lambda s: int((s < 0.5).sum())])
cover.columns = ["mean coverage", "days under 50 %"]
cover = cover.reindex(devices.index).fillna({"mean coverage": 0.0, "days under 50 %": days})
print(
    f"{(cover['days under 50 %'] > 0).sum()} of {len(devices)} meters miss data on some day;"
    f" overall coverage {cover['mean coverage'].mean():.1%}"
)
cover[cover["days under 50 %"] > 0].join(devices[["name"]])

# %% [markdown]
# ## Open anomalies this month
# Flags on the readings as they are today: anything listed is not corrected yet.

# %%
month_readings = readings[readings.index >= this_start.tz_localize(tz)]
flags = wf.flag_anomalies(month_readings)
FLAGS = [f for f in wf.plots.FLAG_STYLES if f in flags.columns]
hit = flags.groupby("device_id")[FLAGS].sum()
hit = hit[hit.sum(axis=1) > 0]
open_anomalies = hit.join(devices[["name", "meter_type"]])
open_anomalies

# %% [markdown]
# ## Reproducibility
# The data's numbers (exact arithmetic on the recorded answers) are what a replay must
# reproduce; anomaly counts also depend on the rules' thresholds, so they are compared
# only as information.

# %%
months = totals[[str(m0 - 1), str(m0)]].stack()
headline = {"|".join(key): round(float(v), 6) for key, v in months.items()}
study.check("totals", headline)
study.check("anomaly_counts", {f: int(hit[f].sum()) for f in FLAGS}, informational=True)

# %% tags=["summary"]
name = orgs.loc[org, "name"]
lines = [
    f"- **{kind}**: {row[str(m0)]:,.0f} {u} ({row['change %']:+.1f} % vs {m0 - 1})"
    for (kind, u), row in totals.iterrows()
]
complete = int((cover["days under 50 %"] == 0).sum())
display(
    Markdown(
        f"**{name} — {m0.strftime('%B %Y')}** ({tz})\n\n"
        + "\n".join(lines)
        + f"\n\n{complete} of {len(devices)} meters have data on every day"
        f" (overall coverage {cover['mean coverage'].mean():.1%});"
        f" {len(open_anomalies)} meters show open anomalies."
    )
)

# %% tags=["footer"]
study.close()
study
