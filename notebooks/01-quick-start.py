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
# # 1 · Quick start: log in, find your meters, a week of daily consumption
#
# This notebook talks to the Waltero API named by `WALTERO_BASE_URL`, `WALTERO_USERNAME`
# and `WALTERO_PASSWORD`. When they are not set it starts the **bundled simulator** on a
# loopback port, so it runs anywhere without credentials.

# %% tags=["parameters"]
org = None  # organization id; None: $WALTERO_ORG, else the first one you can read
start = "2026-05-18T22:00Z"  # the guide's example week (UTC, end exclusive)
end = "2026-05-25T22:00Z"

# %%
import atexit
import contextlib
import os

import matplotlib.pyplot as plt
import pandas as pd

import waltero_frames as wf

pd.set_option("display.width", 120)

if all(os.environ.get(k) for k in ("WALTERO_BASE_URL", "WALTERO_USERNAME", "WALTERO_PASSWORD")):
    client = wf.Client(progress=False)  # reads the WALTERO_* settings
    print("tenant:", os.environ["WALTERO_BASE_URL"])
else:
    _stack = contextlib.ExitStack()
    sim = _stack.enter_context(wf.sim.running())  # the bundled simulator, until the kernel ends
    atexit.register(_stack.close)
    client = wf.Client(sim.base_url, sim.username, sim.password, progress=False)
    print("bundled simulator:", sim.base_url)

# %% [markdown]
# ## Who am I, and which organizations can I read?
# The client logs in lazily on its first call and reuses its token; it never shows the
# password or the token (try `client` below). In an interactive session leave out
# `progress=False` to get progress bars on fetches that take many requests.

# %%
client

# %%
me = client.me()
print("logged in as", me["user"]["email"])
orgs = wf.organizations(client)
orgs

# %%
org = org or os.environ.get("WALTERO_ORG") or orgs.index[0]
tz = orgs.loc[org, "timezone"]
print(f"organization {orgs.loc[org, 'name']!r} ({org}), time zone {tz}")

# %% [markdown]
# ## Devices
# `details=True` adds each meter's unit, multiplier, register size and sensor variant
# (one extra call per device).

# %%
devices = wf.devices(client, org, details=True)
print(len(devices), "devices")
devices.groupby(["meter_type", "unit"]).size().rename("meters").to_frame()

# %%
devices.head()

# %% [markdown]
# ## A week of daily consumption (Part 1)
# One call for the whole organization. Two traps are handled for you:
#
# * **null rows** — a meter without readings on a day comes back with `consumption: null`
#   and *no date*; the frame drops them and counts them in `attrs["missing_periods"]`;
# * **partial UTC days** — Part 1's days are UTC days. The guide's week starts at 22:00Z
#   (local midnight in Berlin in summer), so the first and last UTC days hold only two
#   and 22 hours of data: `partial` marks them.

# %%
daily = wf.daily_consumption(client, org, start, end)
print(len(daily), "rows;", daily.index.min().date(), "…", daily.index.max().date())
daily.head()

# %%
missing = daily.attrs["missing_periods"]
missing = missing[missing > 0]
print("meters with days without any reading:")
missing.rename("days without data").to_frame().join(devices[["name", "meter_type"]])

# %% [markdown]
# Which device-days have data at all (red: a day the API answered with `null`):

# %%
wf.plots.completeness(daily, devices=devices, title="Part 1 rows with data, guide week")
plt.show()

# %%
per_day = daily.groupby([daily.index, "partial"]).size().rename("meters").reset_index()
per_day

# %% [markdown]
# ## Totals per meter type, with units
# Only add up meters of one unit. Heat comes in kWh and MWh here: `wf.to_unit` expresses
# every energy meter in kWh (water stays in m3; its `unit` column says so).

# %%
joined = wf.to_unit(daily.join(devices[["meter_type", "unit"]], on="device_id"), "kWh")
full = joined[~joined["partial"]]
totals = pd.DataFrame(
    {
        "all rows": joined.groupby(["meter_type", "unit"])["consumption"].sum(),
        "full UTC days only": full.groupby(["meter_type", "unit"])["consumption"].sum(),
        "meters": joined.groupby(["meter_type", "unit"])["device_id"].nunique(),
    }
)
totals.round(3)

# %% [markdown]
# The gap between the two columns is what the two partial days hold. Summing the week
# in the organization's local days needs the raw readings: see notebook 2.

# %% [markdown]
# ## Daily bars per meter
# The cold-water meters with the largest consumption; hatched bars are partial UTC days.

# %%
cold = devices.index[devices["meter_type"] == "water_cold"]
ax = wf.plots.daily_bars(daily[daily["device_id"].isin(cold)], devices=None, unit="m3", top=6)
plt.show()
