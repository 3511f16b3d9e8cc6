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
# The energy manager's report for one organization and one calendar month of its own time
# zone: consumption month over month (heat and gas also weather-normalised), load figures
# (baseload, use outside operating hours, peak demand and when it happened), what the
# energy cost, its CO2, data completeness and the open data issues with what to do about
# them. Its tables also go to an Excel workbook (`make report`: `reports/05-energy-report.xlsx`).
#
# Prices and emission factors are **example tables** (`data/tariffs-example.csv`,
# `data/emission-factors-example.csv`): illustrative values, not your contract or the
# official factors; pass your own files as parameters.

# %% tags=["parameters"]
org = None  # None: $WALTERO_ORG, else the first organization you can read
month = "2026-11"  # the report month (the organization's calendar month)
top_n = 10
study_path = "../data/studies/energy-report-demo"  # the study folder (answers + numbers)
study_mode = "auto"  # "auto": replay the study when it exists, else record it
workbook = None  # path of the Excel workbook to write (make report: reports/<name>.xlsx)
tariffs_file = "../data/tariffs-example.csv"  # example prices, not a real contract
factors_file = "../data/emission-factors-example.csv"  # example factors, not authoritative
gas_calorific_value = 11.2  # kWh per m3 (example; your supplier's bill states it)
gas_correction_factor = 0.95  # volume correction to standard conditions (example)
operating_hours = {d: [("07:00", "19:00")] for d in ("Mon", "Tue", "Wed", "Thu", "Fri")}
holidays = "auto"  # public holidays: "auto" (from the organization's zone), a code, or None

# %%
import os

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

import waltero_frames as wf

pd.set_option("display.width", 120)
pd.set_option("display.max_colwidth", 60)
org = org or os.environ.get("WALTERO_ORG")
study = wf.Study(study_path, params={"org": org, "month": month}, mode=study_mode)
client = study.client(progress=False)

# %%
orgs = wf.organizations(client)
org = org or os.environ.get("WALTERO_ORG") or orgs.index[0]
tz = orgs.loc[org, "timezone"]
name = orgs.loc[org, "name"]
devices = wf.devices(client, org, details=True)
m0 = pd.Period(month, "M")
this_start = m0.start_time.tz_localize(tz)  # local calendar month
this_end = (m0 + 1).start_time.tz_localize(tz)
prev_start = (m0 - 1).start_time.tz_localize(tz)
# a day of readings before the first month gives its first delta its previous reading
fetch_start = prev_start - pd.Timedelta(days=1)
SITES = {  # the demo organizations' sites (data/demo-organization.md): weather and holidays
    "Europe/Berlin": (52.52, 13.41, "DE-BE"),
    "Australia/Sydney": (-33.87, 151.21, "AU-NSW"),
    "Europe/Vienna": (48.21, 16.37, "AT-9"),
}
latitude, longitude, region = SITES.get(tz, (None, None, None))
holidays = region if holidays == "auto" else holidays
zone = f"local time, {tz}"
print(f"{name} — {m0.strftime('%B %Y')} ({tz}); {len(devices)} meters")

# %%
FIELDS = ["meter.value.raw", "battery.level", "connection.rssi"]
readings = wf.telemetry(client, devices, fetch_start, this_end, fields=FIELDS, tz=tz)
# energy meters in kWh (heat in MWh and gas in m3 converted), water in m3
cons = wf.to_unit(
    wf.readings_to_consumption(readings),
    "kWh",
    calorific_value=gas_calorific_value,
    correction_factor=gas_correction_factor,
)
meta = devices[["label", "meter_type"]]


def month_of(frame: pd.DataFrame) -> pd.Series:
    """The local calendar month of each row's ``period_start``."""
    return pd.Series(frame.index.tz_convert(tz).tz_localize(None).to_period("M"), index=frame.index)


def in_month(frame: pd.DataFrame, period: pd.Period) -> pd.DataFrame:
    return frame[(month_of(frame) == period).to_numpy()]


def local(times: pd.Series) -> pd.Series:
    """UTC instants as the organization's wall-clock time (the column header names the zone)."""
    return times.dt.tz_convert(tz).dt.strftime("%a %d %b %H:%M")


# %% [markdown]
# ## Consumption
# One telemetry call per meter and month; consumption = register deltas (rollovers
# unwrapped, multipliers applied), each delta in the local month of its reading (Part 1's
# own rule, in local time). Heat in MWh and gas in m3 are expressed in kWh
# (gas: m3 × correction factor × calorific value, both example values above).

# %%
monthly = wf.resample_consumption(cons, "MS", tz=tz)
monthly = monthly.join(meta, on="device_id").assign(
    unit=monthly["device_id"].map(cons.attrs["devices"]["unit"])
)
this = in_month(monthly, m0)
prev = in_month(monthly, m0 - 1)


def by_type(frame: pd.DataFrame, column: str = "consumption") -> pd.Series:
    return frame.groupby(["meter_type", "unit"])[column].sum(min_count=1)


totals = pd.DataFrame({str(m0 - 1): by_type(prev), str(m0): by_type(this)})
totals["change %"] = 100 * (totals[str(m0)] / totals[str(m0 - 1)] - 1)
totals.round(1)

# %%
fig, axes = plt.subplots(1, len(totals), figsize=(2.4 * len(totals), 3.2), layout="constrained")
for ax, ((kind, u), row) in zip(axes, totals.iterrows(), strict=True):
    ax.bar([str(m0 - 1), str(m0)], [row[str(m0 - 1)], row[str(m0)]], color=["#9bb", "#377"])
    ax.set_title(kind, fontsize="medium")
    ax.set_ylabel(f"consumption [{u}]")
fig.suptitle(f"Month over month — {name}")
plt.show()

# %% [markdown]
# ### Heat and gas, weather-normalised
# A colder month needs more heat. To compare months fairly, the daily heat and gas use of
# all meters of each type (the API's UTC days, past 12 months) gets a change-point
# baseline (energy signature) against the site's outdoor temperature, and both months are
# re-expressed under the same reference weather — the average of the same calendar days
# in 2024 and 2025: `normalised = actual − expected(actual weather) + expected(reference
# weather)`. The baseline's fit is shown: ASHRAE Guideline 14 accepts a daily CV(RMSE) up
# to 25 % for savings claims; a looser fit makes the normalised change indicative only.
# These sums are over UTC days, so they differ slightly from the local-month totals.

# %%
weather = pd.DataFrame()
if latitude is not None:
    history = wf.daily_consumption(
        client, org, this_end - pd.DateOffset(months=12), this_end.date()
    ).join(devices[["meter_type", "unit"]], on="device_id")
    history = history[history["meter_type"].isin(["heat", "gas"])]
    history = wf.to_unit(
        history, "kWh", calorific_value=gas_calorific_value, correction_factor=gas_correction_factor
    )
    # one series per meter type (the building's heat and gas); a day's coverage is the
    # share of the type's meters with a value that day
    per_day = history.groupby([history.index, "meter_type"])["consumption"].agg(["sum", "size"])
    n_meters = devices["meter_type"].value_counts()
    by_type_daily = pd.DataFrame(
        {
            "device_id": per_day.index.get_level_values(1),
            "consumption": per_day["sum"].to_numpy(),
            "coverage": (
                per_day["size"] / per_day.index.get_level_values(1).map(n_meters)
            ).to_numpy(),
        },
        index=pd.DatetimeIndex(per_day.index.get_level_values(0), name="period_start"),
    )
    by_type_daily.attrs["tz"] = "UTC"  # Part 1's days are UTC days
    weather_url = client.base_url.rsplit("/api", 1)[0] if "127.0.0.1" in client.base_url else None
    temp = wf.temperature(
        latitude, longitude, "2024-01-01", this_end.date(), client=client, base_url=weather_url
    )
    models = wf.fit_baseline(by_type_daily, temp)
    reference = temp[temp.index < "2026-01-01"]
    norm = wf.normalise(by_type_daily, models, reference)
    utc_month = norm.index.tz_convert("UTC").tz_localize(None).to_period("M")
    sums = {p: norm[utc_month == p].groupby("device_id")[["actual", "normalised"]].sum()
            for p in (m0 - 1, m0)}  # fmt: skip
    degree = wf.degree_days(temp, freq="MS", tz="UTC")
    hdd = {p: degree.loc[degree.index.tz_localize(None).to_period("M") == p, "degree_days"].sum()
           for p in (m0 - 1, m0)}  # fmt: skip
    weather = pd.DataFrame(
        {
            f"{m0 - 1} actual [kWh]": sums[m0 - 1]["actual"],
            f"{m0} actual [kWh]": sums[m0]["actual"],
            "change %": 100 * (sums[m0]["actual"] / sums[m0 - 1]["actual"] - 1),
            f"{m0 - 1} normalised [kWh]": sums[m0 - 1]["normalised"],
            f"{m0} normalised [kWh]": sums[m0]["normalised"],
            "normalised change %": 100 * (sums[m0]["normalised"] / sums[m0 - 1]["normalised"] - 1),
            "baseline": models["model"],
            "CV(RMSE) %": 100 * models["cv_rmse"],
            "R²": models["r2"],
            "fit": models["reason"].where(~models["valid"], "meets ASHRAE 14"),
        }
    )
    weather.index.name = "meter type"
    print(
        f"Heating degree days (base 15.5 °C): {m0 - 1}: {hdd[m0 - 1]:.0f} K·d, "
        f"{m0}: {hdd[m0]:.0f} K·d"
    )
    display(weather.round(2))
else:
    print(f"no site coordinates for {tz}: no weather normalisation")

# %% [markdown]
# ### Top consumers

# %%
per_meter = this.set_index("device_id")[["label", "meter_type", "consumption", "unit", "coverage"]]
per_meter["share of type %"] = (
    100 * per_meter["consumption"] / per_meter.groupby("meter_type")["consumption"].transform("sum")
)
top = per_meter.sort_values(["meter_type", "consumption"], ascending=[True, False])
top.groupby("meter_type").head(3).set_index("label").rename_axis("meter").round(2)

# %% [markdown]
# ## Load: baseload, out-of-hours use and peaks
# Per meter and month (`wf.load_kpis`): **baseload** = the 10th percentile of the month's
# hourly mean power (what runs all the time); **out of hours** = the share of the month's
# energy used outside the operating hours (a parameter) or on a public holiday of the
# site's region; **peak** = the highest mean power over 15 minutes (or the
# meter's own reading interval when longer), with when it began, in local time;
# **load factor** = mean / peak power. The cheapest savings are usually a high baseload
# and a large out-of-hours share.

# %%
kpis = wf.load_kpis(cons, tz=tz, schedule=operating_hours, holidays=holidays)
kpis_month = in_month(kpis, m0).set_index("device_id").join(meta)
load = kpis_month[kpis_month["meter_type"] == "electricity"]
load_table = pd.DataFrame(
    {
        "meter": load["label"],
        "energy [kWh]": load["energy"],
        "baseload [kW]": load["baseload"],
        "out of hours %": 100 * load["out_of_hours_share"],
        "peak [kW]": load["peak_demand"],
        f"peak began ({zone})": local(load["peak_at"]),
        "peak window [min]": load["peak_interval"].dt.total_seconds() / 60,
        "load factor": load["load_factor"],
    }
)
load_table = load_table.set_index("meter")
print("Electricity meters ranked by baseload:")
load_table.sort_values("baseload [kW]", ascending=False).head(top_n).round(2)

# %%
print("Electricity meters ranked by the share used out of hours:")
load_table.sort_values("out of hours %", ascending=False).head(top_n).round(2)

# %%
heat_gas = kpis_month[kpis_month["meter_type"].isin(["heat", "gas"])]
peaks = pd.DataFrame(
    {
        "meter": heat_gas["label"],
        "type": heat_gas["meter_type"],
        "peak [kW]": heat_gas["peak_demand"],
        f"peak began ({zone})": local(heat_gas["peak_at"]),
        "baseload [kW]": heat_gas["baseload"],
    }
).sort_values("peak [kW]", ascending=False)
print("Heat and gas: peak demand (what the connection must deliver) and when:")
peaks.set_index("meter").head(top_n).round(1)

# %% [markdown]
# ### Electricity hour by hour
# All electricity meters summed, per local hour of each day of the month.

# %%
elec = devices.index[devices["meter_type"] == "electricity"]
elec_cons = cons[cons["device_id"].isin(elec)]
elec_cons = elec_cons[(elec_cons.index >= this_start) & (elec_cons.index < this_end)]

# %% tags=["readme-image"]
ax = wf.plots.carpet(elec_cons, tz=tz, unit="kWh", title=f"Electricity, all meters — {name}, {m0}")
plt.show()

# %%
hourly = wf.resample_consumption(cons[cons["device_id"].isin(elec)], "h", tz=tz)
hourly = hourly[(hourly.index >= this_start) & (hourly.index < this_end)]
wf.plots.load_duration(hourly, unit="kWh", title=f"Load duration, electricity — {m0}")
plt.show()

# %% [markdown]
# ## Cost and CO2
# Cost from the example tariff table (validity dates, a day/night electricity tariff with
# the night window 22:00–06:00 local time, standing charges once per day and meter);
# CO2 from the example factor table (location-based, the factor of the reading's year).
# A meter without a tariff or factor shows a reason instead of a number.

# %%
tariffs = pd.read_csv(tariffs_file, comment="#")
factors = pd.read_csv(factors_file, comment="#")
factors = factors[factors["basis"] == "location"]
cost = wf.costs(cons, tariffs, tz=tz).join(meta, on="device_id")
co2 = wf.emissions(cons, factors, tz=tz)
sources = "; ".join(co2.attrs["factor_sources"])
co2 = co2.join(meta, on="device_id")
currency = "/".join(sorted(set(cost["currency"].dropna())))


def money(frame: pd.DataFrame, period: pd.Period) -> pd.DataFrame:
    rows = in_month(frame, period)
    return rows.groupby("meter_type")[["energy_cost", "standing_charge", "total"]].sum(min_count=1)


def kg(frame: pd.DataFrame, period: pd.Period) -> pd.Series:
    return in_month(frame, period).groupby("meter_type")["kg_co2e"].sum(min_count=1)


spend = pd.DataFrame(
    {
        f"{m0 - 1} cost [{currency}]": money(cost, m0 - 1)["total"],
        f"{m0} cost [{currency}]": money(cost, m0)["total"],
        f"{m0} energy [{currency}]": money(cost, m0)["energy_cost"],
        f"{m0} standing charges [{currency}]": money(cost, m0)["standing_charge"],
        f"{m0 - 1} CO2 [kg]": kg(co2, m0 - 1),
        f"{m0} CO2 [kg]": kg(co2, m0),
    }
)
spend.loc["all meters"] = spend.sum(min_count=1)
spend.round(1)

# %%
cost_month = in_month(cost, m0).set_index("device_id")
co2_month = in_month(co2, m0).set_index("device_id")
top_cost = pd.DataFrame(
    {
        "meter": cost_month["label"],
        "type": cost_month["meter_type"],
        f"cost [{currency}]": cost_month["total"],
        "CO2 [kg]": co2_month["kg_co2e"],
        "note": cost_month["reason"].where(cost_month["reason"] != "", co2_month["reason"]),
    }
).sort_values(f"cost [{currency}]", ascending=False)
print(f"Top {top_n} meters by cost, {m0}:")
top_cost.set_index("meter").head(top_n).round(1)

# %%
print("emission factors used:", sources)
missing_price = cost_month[cost_month["partial"]]
if len(missing_price):
    print(f"{len(missing_price)} meters are not fully priced:")
    display(missing_price[["label", "meter_type", "reason"]].set_index("label"))

# %% [markdown]
# ## Data completeness
# Share of each local day backed by readings (`coverage`); a day under 50 % should not be
# billed from its own data.

# %%
daily = wf.resample_consumption(cons, "D", tz=tz)
daily_month = daily[(daily.index >= this_start) & (daily.index < this_end)]
wf.plots.completeness(daily_month, devices=devices, tz=tz, title=f"Data completeness — {m0}")
plt.show()

# %%
days = pd.date_range(m0.start_time, (m0 + 1).start_time, freq="D", inclusive="left").size
cover = daily_month.groupby("device_id")["coverage"].agg(["mean", lambda s: int((s < 0.5).sum())])
cover.columns = ["mean coverage", "days under 50 %"]
cover = cover.reindex(devices.index).fillna({"mean coverage": 0.0, "days under 50 %": days})
complete = int((cover["days under 50 %"] == 0).sum())
print(
    f"{len(devices) - complete} of {len(devices)} meters miss data on some day;"
    f" overall coverage {cover['mean coverage'].mean():.1%}"
)
gaps = cover[cover["days under 50 %"] > 0].join(meta).set_index("label").rename_axis("meter")
gaps if len(gaps) else print("every meter has data on every day of the month")

# %% [markdown]
# ## Open data issues
# Episodes of anomalies in this month's readings as they are today (anything listed is not
# corrected yet), from `wf.anomaly_events`: one row per episode with its start and end in
# local time and what to do. Register rollovers are normal and not listed.

# %%
ACTION = {
    "spike": "check the register reading and correct the misread value",
    "negative": "check for a meter exchange or backflow; correct or annotate the reading",
    "gap": "check the sensor's radio link and gateway: readings are missing",
    "stuck": "inspect the meter: the register did not move",
    "night_flow": "possible leak: check taps, cisterns and pipes on this supply",
    "low_battery": "replace the sensor battery",
    "weak_signal": "check the antenna and gateway placement",
    "multiplier_mismatch": "fix the meter's multiplier in the portal",
}
month_readings = readings[readings.index >= this_start]
flags = wf.flag_anomalies(month_readings)
events = wf.anomaly_events(flags, rules=list(ACTION))
events = events.join(meta, on="device_id")
issues = pd.DataFrame(
    {
        "meter": events["label"],
        "type": events["meter_type"],
        "issue": events["rule"].str.replace("_", " "),
        f"from ({zone})": local(events["start"]),
        f"to ({zone})": local(events["end"]),
        "readings": events["n_readings"],
        "what to do": events["rule"].map(ACTION),
        "detail": events["detail"],
    }
).sort_values(["issue", "meter"])
per_issue = issues.groupby("issue").size().rename("episodes")
print(f"{len(issues)} open episodes on {issues['meter'].nunique()} meters:", per_issue.to_dict())
issues.set_index("meter").head(3 * top_n)

# %% [markdown]
# ## Reproducibility
# The report is a `wf.Study`: every API answer and its key numbers live in one folder. The
# committed demo study (`data/studies/energy-report-demo`) replays offline — no server, no
# credentials — and a replay must reproduce the recorded numbers exactly (anomaly episodes
# also depend on the rules' thresholds, so they are compared only as information).
# `study_mode="record"` (or `python -m tools.report --refresh-data`) records it again;
# `waltero-frames study verify data/studies/energy-report-demo
# notebooks/05-energy-report.py` checks it.

# %%
months = totals[[str(m0 - 1), str(m0)]].stack()
headline = {"|".join(key): round(float(v), 6) for key, v in months.items()}
study.check("totals", headline)
study.check("load_kpis", kpis_month[["energy", "peak_demand", "baseload", "out_of_hours_share"]])
study.check("costs_and_co2", spend)
if len(weather):
    # least-squares fits can differ in the last bit between BLAS builds: 6 decimals
    study.check("weather_normalised", weather.iloc[:, :6].round(6))
study.check("anomaly_episodes", per_issue.to_dict(), informational=True)

# %% tags=["summary"]
elec_peak = load.loc[load["peak_demand"].idxmax()] if len(load) else None


def change(now: float, before: float) -> str:
    return f"{100 * (now / before - 1):+.1f} %" if before else "n/a"


lines = []
for (kind, u), row in totals.iterrows():
    line = f"| {kind} | {row[str(m0)]:,.0f} {u} | {change(row[str(m0)], row[str(m0 - 1)])} |"
    if kind in weather.index:
        w = weather.loc[kind]
        fit = (
            ""
            if w["fit"] == "meets ASHRAE 14"
            else f" (indicative: CV(RMSE) {w['CV(RMSE) %']:.0f} %)"
        )
        line += f" {w['normalised change %']:+.1f} %{fit} |"
    else:
        line += " |"
    lines.append(line)
every = spend.loc["all meters"]
summary = [
    f"## {name} — {m0.strftime('%B %Y')}",
    f"All times are the organization's wall-clock time: {tz}.",
    "",
    "| meter type | consumption | change vs " + str(m0 - 1) + " | weather-normalised change |",
    "|---|---|---|---|",
    *lines,
    "",
    f"- **Cost**: {every[f'{m0} cost [{currency}]']:,.0f} {currency} "
    f"({change(every[f'{m0} cost [{currency}]'], every[f'{m0 - 1} cost [{currency}]'])};"
    " example tariffs)",
    f"- **CO2**: {every[f'{m0} CO2 [kg]'] / 1000:,.1f} t "
    f"({change(every[f'{m0} CO2 [kg]'], every[f'{m0 - 1} CO2 [kg]'])}; example factors)",
]
if elec_peak is not None:
    summary.append(
        f"- **Electricity peak**: {elec_peak['peak_demand']:,.1f} kW on "
        f"{elec_peak['label']}, {local(pd.Series([elec_peak['peak_at']])).iloc[0]}; highest "
        f"baseload {load['baseload'].max():,.1f} kW "
        f"({load.loc[load['baseload'].idxmax(), 'label']})"
    )
summary += [
    f"- **Data quality**: overall coverage {cover['mean coverage'].mean():.1%}; "
    f"{len(devices) - complete} of {len(devices)} meters miss data on some day",
    f"- **Open issues**: {len(issues)} episodes on {issues['meter'].nunique()} meters — "
    + ", ".join(f"{n} {k}" for k, n in per_issue.sort_values(ascending=False).items()),
]
display(Markdown("\n".join(summary)))

# %%
if workbook:
    wf.to_excel(
        {
            "Consumption": totals.reset_index(),
            "Weather-normalised": weather.reset_index(),
            "Load KPIs": in_month(kpis, m0).join(meta, on="device_id"),
            "Costs": in_month(cost, m0),
            "CO2": in_month(co2, m0),
            "Completeness": cover.join(meta),
            "Open issues": events.drop(columns="detail").assign(
                what_to_do=events["rule"].map(ACTION)
            ),
        },
        workbook,
        tz=tz,
        provenance={
            "organization": f"{name} ({org})",
            "period": f"{m0.strftime('%B %Y')} ({tz})",
            "study": study_path,
            "tariffs": f"{tariffs_file} (example)",
            "emission factors": f"{factors_file} (example); " + sources,
        },
    )
    print("workbook:", workbook)

# %% tags=["footer"]
study.close()
study
