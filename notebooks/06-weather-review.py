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
# # 6 · Weather-normalised review
#
# Heat and gas follow the weather: a cold November uses more than a mild one without
# anything going wrong. This review reads the outdoor temperature of the organization's
# site, fits each heat and gas meter's **energy signature** (consumption against the day's
# mean temperature, a change-point model with a balance point), and then compares this
# heating season with the previous one raw and **weather-normalised**, shows expected
# against actual, and a **CUSUM** of actual minus expected that shows when a meter
# started to use less than its baseline.
#
# **Reproducible study.** The review is a `wf.Study` (`data/studies/weather-review`): the
# API answers *and the weather archive's* are recorded there and replay offline, and the
# key numbers must come out the same. `study_mode="record"` records it again. Part 1 days
# are UTC days, so this review works on UTC days throughout (the temperature too): the
# models carry that zone.

# %% tags=["parameters"]
org = "00000000-0000-0000-0000-000000000001"  # the demo organization (Berlin)
site = (52.52, 13.41)  # latitude, longitude (data/demo-organization.md)
start = "2024-10-01"  # the history to read: [start, end)
end = "2026-12-01"
baseline_end = "2025-10-01"  # the baseline year: [start, baseline_end)
season = ("2026-10-01", "2026-12-01")  # this heating season so far
study_path = "../data/studies/weather-review"  # the study folder (answers + numbers)
study_mode = "auto"  # "auto": replay the study when it exists, else record it
workbook = None  # path of the Excel workbook to write (make report: reports/<name>.xlsx)

# %%
import matplotlib.pyplot as plt
import pandas as pd

import waltero_frames as wf

pd.set_option("display.width", 120)
study = wf.Study(study_path, params={"org": org, "site": list(site), "end": end}, mode=study_mode)
client = study.client(progress=False)
print(f"study {study_path}: {study.mode}")

# %%
devices = wf.devices(client, org, details=True)
# a name for every meter: some have an empty name, then their external id stands in
devices["name"] = devices["name"].where(devices["name"].fillna("") != "", devices["external_id"])
meters = devices[devices["meter_type"].isin(["heat", "gas"])]
daily_all = wf.daily_consumption(client, org, start, end)  # Part 1: UTC days
daily = daily_all[daily_all["device_id"].isin(meters.index)]
# the bundled simulator serves the weather archive too; a real tenant uses Open-Meteo
weather_url = client.base_url if client.base_url.startswith("http://127.0.0.1") else None
temp = wf.temperature(*site, start, end, client=client, base_url=weather_url)
print(
    f"{len(meters)} heat and gas meters, {daily.index.nunique()} days; "
    f"{int(temp['temperature'].isna().sum())} hours without a temperature"
)

# %% [markdown]
# ## Weather and degree days
# Heating degree days (base 15.5 °C) per month; a day with less than 80 % of its hours
# has none (never 0), and `coverage` says how many days of each month count.

# %%
hdd = wf.degree_days(temp, freq="MS")
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), layout="constrained", sharex=True)
days = wf.degree_days(temp)
ax1.plot(days.index, days["mean_temperature"], lw=0.8)
ax1.set_ylabel("daily mean [°C]")
ax1.set_title("Outdoor temperature at the site")
ax2.bar(hdd.index, hdd["degree_days"], width=25)
ax2.set_ylabel("heating degree days [K·d]")
plt.show()
hdd.round(2).tail(14)

# %% [markdown]
# ## Energy signatures
# One model per meter on the baseline year, chosen as CalTRACK does among intercept-only,
# heating, cooling and heating+cooling change-point models; `valid`/`reason` apply
# ASHRAE Guideline 14's limits.

# %%
baseline = daily[daily.index < pd.Timestamp(baseline_end, tz="UTC")]
models = wf.fit_baseline(baseline, temp)
table = models.join(meters[["name", "meter_type", "unit"]])
cols = ["name", "meter_type", "unit", "model", "base_load", "heating_slope"]
cols += ["heating_balance_point", "n_days", "r2", "cv_rmse", "valid", "reason"]
table[cols].round(3)

# %%
shown = table.sort_values("cv_rmse").groupby("meter_type").head(2).index  # 2 heat, 2 gas
fig, axes = plt.subplots(1, 4, figsize=(16.8, 3.8), layout="constrained", squeeze=False)
for ax, dev in zip(axes[0], shown, strict=False):
    wf.plots.energy_signature(
        baseline,
        temp,
        models,
        device=dev,
        unit=meters.loc[dev, "unit"],
        ax=ax,
        title=meters.loc[dev, "name"],
    )
plt.show()

# %% [markdown]
# ## This heating season against the previous one
# Raw totals answer "did we use more?"; weather-normalised totals answer "would we have
# used more in the same weather?": `normalised = actual − expected(this weather) +
# expected(last season's weather)`, day by day (same month and day).

# %%
now = (pd.Timestamp(season[0], tz="UTC"), pd.Timestamp(season[1], tz="UTC"))
before = (now[0] - pd.DateOffset(years=1), now[1] - pd.DateOffset(years=1))
this = daily[(daily.index >= now[0]) & (daily.index < now[1])]
last = daily[(daily.index >= before[0]) & (daily.index < before[1])]
ref_t = temp[(temp.index >= before[0]) & (temp.index < before[1])]
norm = wf.normalise(this, models, ref_t, temperature=temp)
seasons = pd.DataFrame(
    {
        "last season": last.groupby("device_id")["consumption"].sum(),
        "this season": this.groupby("device_id")["consumption"].sum(),
        "this, in last season's weather": norm.groupby("device_id")["normalised"].sum(),
    }
).join(meters[["name", "meter_type", "unit"]])
seasons["raw change %"] = 100 * (seasons["this season"] / seasons["last season"] - 1)
seasons["normalised change %"] = 100 * (
    seasons["this, in last season's weather"] / seasons["last season"] - 1
)
by_type = seasons.groupby(["meter_type", "unit"])[
    ["last season", "this season", "this, in last season's weather"]
].sum()
by_type["raw change %"] = 100 * (by_type["this season"] / by_type["last season"] - 1)
by_type["normalised change %"] = 100 * (
    by_type["this, in last season's weather"] / by_type["last season"] - 1
)
hdd_now = days.loc[(days.index >= now[0]) & (days.index < now[1]), "degree_days"].sum()
hdd_before = days.loc[(days.index >= before[0]) & (days.index < before[1]), "degree_days"].sum()
print(f"heating degree days: last season {hdd_before:.0f}, this season {hdd_now:.0f}")
by_type.round(1)

# %%
seasons.sort_values("normalised change %").round(1).head(8)

# %% [markdown]
# ## Expected against actual
# The baseline models predict each day of this season from its weather; the band is the
# 95 % prediction interval of one day's total.

# %%
season_t = temp[(temp.index >= now[0]) & (temp.index < now[1])]
expected = wf.predict_baseline(models, season_t)
dev = seasons["normalised change %"].idxmin()  # the meter that changed most
e = expected[expected["device_id"] == dev]
a = this[this["device_id"] == dev]
fig, ax = plt.subplots(figsize=(10, 3.6), layout="constrained")
ax.fill_between(e.index, e["lower"], e["upper"], alpha=0.25, label="95 % prediction interval")
ax.plot(e.index, e["expected"], label="expected (baseline)")
ax.plot(a.index, a["consumption"], ".", label="actual")
ax.set_ylabel(f"consumption per day [{meters.loc[dev, 'unit']}]")
ax.set_title(f"Expected against actual — {meters.loc[dev, 'name']}")
ax.legend()
plt.show()

# %% [markdown]
# ## CUSUM
# The running sum of actual minus expected since the baseline year: flat while the meter
# behaves like its baseline, falling from the day it starts to use less.

# %%
after = daily[daily.index >= pd.Timestamp(start, tz="UTC")]
all_expected = wf.predict_baseline(models, temp)
sums = wf.cusum(after, all_expected)
ax = wf.plots.cusum(sums, devices=[dev], unit=meters.loc[dev, "unit"])
ax.set_title(f"CUSUM against the baseline — {meters.loc[dev, 'name']}")
plt.show()
low = sums[sums["device_id"] == dev]["cusum"]
print(
    f"{meters.loc[dev, 'name']}: CUSUM {low.iloc[-1]:.1f} {meters.loc[dev, 'unit']} "
    f"by {low.index[-1].date()} (peak {low.max():.1f} on {low.idxmax().date()})"
)

# %%
study.check("models", models[cols[3:]])
study.check("seasons", by_type)

# %%
if workbook:
    wf.to_excel(
        {
            "Baselines": table[cols].reset_index(),
            "Seasons by type": by_type.reset_index(),
            "Seasons by meter": seasons.reset_index(),
            "Degree days": hdd.reset_index(),
        },
        workbook,
        provenance={"organization": org, "site": f"{site}", "study": study_path},
    )
    print("workbook:", workbook)

# %% tags=["summary"]
from IPython.display import Markdown, display

lines = [
    f"- **{kind}**: {row['this season']:,.0f} {u} this season, {row['raw change %']:+.1f} % "
    f"raw, **{row['normalised change %']:+.1f} % in last season's weather**"
    for (kind, u), row in by_type.iterrows()
]
invalid = int((~models["valid"]).sum())
display(
    Markdown(
        f"**Weather-normalised review, {season[0]} – {season[1]}** (vs the same days a year "
        f"earlier; heating degree days {hdd_before:.0f} → {hdd_now:.0f})\n\n"
        + "\n".join(lines)
        + f"\n\n{len(models) - invalid} of {len(models)} heat and gas baselines are valid;"
        f" {meters.loc[dev, 'name']} uses {-low.iloc[-1]:,.1f} {meters.loc[dev, 'unit']}"
        " less than its baseline since the baseline year (CUSUM)."
    )
)

# %% tags=["footer"]
study.close()
study
