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
# # 4 · Corrections: the changelog, `diff_readings`, and a mirror kept in sync
#
# Stored readings get corrected after the fact. The data-audit changelog lists every
# change; `wf.Mirror` keeps a local SQLite copy of an organization's readings that applies
# them, so a second run of a report sees the corrected numbers without re-downloading
# everything.

# %% tags=["parameters"]
org = None  # None: $WALTERO_ORG, else the first organization you can read
since = "2026-05-25T00:00Z"  # the guide's changelog example
window = ("2026-05-18T22:00Z", "2026-05-25T22:00Z")  # readings the mirror keeps (UTC)
mirror_path = None  # None: a fresh file in a temporary folder
demo_device = "11111111-1111-1111-1111-111111111101"
demo_reading = "2026-05-21T06:00:00Z"  # the reading the demo correction changes

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import requests

import waltero_frames as wf
from waltero_frames.notebook.connect import connect

client, sim = connect(progress=False)  # no progress bars in reports
orgs = wf.organizations(client)
org = org or os.environ.get("WALTERO_ORG") or orgs.index[0]
devices = wf.devices(client, org, details=True)
print(orgs.loc[org, "name"], "-", len(devices), "devices")

# %% [markdown]
# ## The changelog
# `wf.changes` follows the cursor to the end and drops duplicate ids. Rows are ordered by
# `changed_at`; a correction of the raw register comes with one for the processed value.

# %%
changes = wf.changes(client, org, since)
print(len(changes), "changes since", since)
changes.head()

# %%
changes.groupby(["actor", "field"]).size().rename("changes").to_frame()

# %% [markdown]
# Hundreds of rows can share one `changed_at` (a bulk re-recognition): paging by moving
# `since` to the last `changed_at` would loop or lose rows — following the cursor does not.

# %%
sizes = changes.groupby(level="changed_at").size().sort_values(ascending=False)
print(f"largest batch: {sizes.iloc[0]} rows at {sizes.index[0]}")
sizes.head(3).rename("rows").to_frame()

# %% [markdown]
# The same reading can be corrected more than once; the last change by (`changed_at`,
# `change_id`) wins. Readings corrected twice:

# %%
key = ["device_id", "field", "timestamp"]
twice = changes.reset_index().groupby(key).filter(lambda g: len(g) > 1)
twice.sort_values([*key, "changed_at"])[
    [*key, "changed_at", "previous_value", "new_value", "actor"]
]

# %% [markdown]
# ## A mirror
# The first `sync` backfills the window's readings for every device and field; later
# syncs fetch only what is new and apply every change since the last one (with a look-back
# for late-arriving changes, deduplicated by id). It is safe to interrupt at any point.

# %%
folder = Path(mirror_path).parent if mirror_path else Path(tempfile.mkdtemp(prefix="mirror-"))
mirror = wf.Mirror(Path(mirror_path) if mirror_path else folder / "waltero-mirror.sqlite")
first = mirror.sync(client, org, *window)
first

# %%
before = mirror.readings(org)
print(f"{len(before):,} rows, {before['device_id'].nunique()} devices")
before.head()

# %% [markdown]
# Nothing new: a second sync adds and applies nothing.

# %%
second = mirror.sync(client, org, *window)
second

# %% [markdown]
# ## A correction arrives
# On the bundled simulator we play the reviewer and correct one reading, as the vendor's
# staff would. (Against a real tenant this step is skipped; corrections arrive on their own.)

# %%
base_url = sim.base_url if sim is not None else os.environ.get("WALTERO_BASE_URL", "")
try:
    is_simulator = requests.get(f"{base_url}/_sim/health", timeout=5).ok
except requests.RequestException:
    is_simulator = False

corrected = None
if is_simulator and demo_device in devices.index:
    ts = pd.Timestamp(demo_reading)
    register = before.loc[before["device_id"] == demo_device, "meter.value.raw"].dropna()
    i = register.index.get_loc(ts)
    old_raw = register.iloc[i]
    # the reviewer re-reads the digits: the true value lies between the neighbours
    new_raw = (register.iloc[i - 1] + register.iloc[i + 1]) // 2
    if new_raw == old_raw:
        new_raw = register.iloc[i + 1] if register.iloc[i + 1] != old_raw else register.iloc[i - 1]
    body = {
        "device_id": demo_device,
        "field": "meter.value.raw",
        "timestamp": ts.isoformat(),
        "new_value": new_raw,
        "actor": "user",
    }
    if sim is not None:
        sim.add_correction(demo_device, "meter.value.raw", ts.isoformat(), new_raw)
    else:
        requests.post(f"{base_url}/_sim/corrections", json=body, timeout=10).raise_for_status()
    corrected = (demo_device, ts, old_raw, new_raw)
    print(
        f"corrected {devices.loc[demo_device, 'name']} at {ts}: raw {old_raw:.0f} -> {new_raw:.0f}"
    )
else:
    print("not the bundled simulator: no demo correction")

# %%
third = mirror.sync(client, org, *window)
after = mirror.readings(org)
third

# %% [markdown]
# ## What changed? `diff_readings`
# `diff_readings(old, new)` lists the changes that turn one telemetry frame into the
# other, in the changelog's layout; `apply_changes(old, diff)` gives `new` back.

# %%
diff = wf.diff_readings(before, after)
diff

# %%
if corrected is not None:
    dev, ts, old_raw, new_raw = corrected
    raw_diff = diff[diff["field"] == "meter.value.raw"]
    assert len(raw_diff) == 1, raw_diff
    assert (raw_diff["device_id"].iloc[0], raw_diff["timestamp"].iloc[0]) == (dev, ts)
    assert (raw_diff["previous_value"].iloc[0], raw_diff["new_value"].iloc[0]) == (old_raw, new_raw)
replayed = wf.apply_changes(before, diff)
cols = [c for c in after.columns if c != "device_id"]
pd.testing.assert_frame_equal(
    replayed.sort_values(["device_id"]).sort_index(kind="stable")[cols],
    after.sort_values(["device_id"]).sort_index(kind="stable")[cols],
    check_freq=False,
)
print("apply_changes(before, diff_readings(before, after)) == after")

# %%
if corrected is not None:
    dev, ts = corrected[0], corrected[1]
    near = after[(after["device_id"] == dev) & (abs(after.index - ts) <= pd.Timedelta("6h"))]
    wf.plots.register(
        near,
        changes=diff,
        devices=devices,
        title=f"{devices.loc[dev, 'name']}: the corrected reading",
    )
    plt.show()

# %% [markdown]
# ## Does the mirror agree with the API?
# The mirror's copy of the corrected device against a fresh telemetry fetch:

# %%
dev = corrected[0] if corrected is not None else devices.index[0]
fields = wf.fields(client, [dev])["field"].tolist()
live = wf.telemetry(client, devices.loc[[dev]], *window, fields=fields)
mine = mirror.readings(org, devices=[dev])
common = [c for c in live.columns if c in mine.columns and c != "device_id"]
same = (live[common].sort_index().to_numpy() == mine[common].sort_index().to_numpy()) | (
    live[common].sort_index().isna().to_numpy() & mine[common].sort_index().isna().to_numpy()
)
print(
    f"{len(live)} rows x {len(common)} columns compared: {'equal' if same.all() else 'DIFFERENT'}"
)
assert len(live) == len(mine) and same.all()
