"""Every notebook runs headless against the simulator (this is how CI runs them), and the
main job's plumbing: HTML export, README image, non-zero exit on a cell error."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tools import report

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = report.notebook_paths(ROOT / "notebooks")
DEMO_ORG = "00000000-0000-0000-0000-000000000001"
SOUTH_ORG = "00000000-0000-0000-0000-000000000002"  # Harbour View Strata, Australia/Sydney


@pytest.fixture
def tenant_env(waltero_sim, monkeypatch):
    """The kernels reach the session's simulator through the WALTERO_* settings.

    Its rate limits are lifted here to keep CI fast (one login per kernel would soon meet
    the 5-per-minute login limit); `make report` runs the notebooks under the defaults.
    """
    waltero_sim.configure(rate=None, login_limit=None)
    monkeypatch.setenv("WALTERO_BASE_URL", waltero_sim.base_url)
    monkeypatch.setenv("WALTERO_USERNAME", waltero_sim.username)
    monkeypatch.setenv("WALTERO_PASSWORD", waltero_sim.password)
    yield waltero_sim
    waltero_sim.reset()  # notebook 4 corrects a reading: leave no trace for other tests


def failure(nb, error) -> str:
    cells = [
        c for c in nb.cells if any(o.get("output_type") == "error" for o in c.get("outputs", []))
    ]
    source = cells[0].source if cells else "?"
    return f"{error}\n--- failing cell ---\n{source}"


DEMO_STUDY = ROOT / "data" / "studies" / "energy-report-demo"
STUDIES = [DEMO_STUDY, ROOT / "data" / "studies" / "weather-review"]  # committed studies


def folder_bytes(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))}


def assert_no_secrets(study: Path, password: str) -> None:
    """Neither the password nor a bearer token in any byte of a study (answers decompressed)."""
    import sqlite3
    import zlib

    manifest = json.loads((study / "manifest.json").read_text())
    with sqlite3.connect(study / manifest["answers"]) as con:
        rows = [zlib.decompress(v) for (v,) in con.execute("SELECT value FROM responses")]
    assert rows
    for raw in [*rows, *folder_bytes(study).values()]:
        assert password.encode() not in raw
        assert b"Bearer" not in raw and b"eyJ" not in raw  # no JWT (base64 of '{"')


@pytest.mark.parametrize("study", STUDIES, ids=[p.name for p in STUDIES])
def test_committed_study_holds_no_secrets_and_is_small(study):
    assert_no_secrets(study, "waltero-demo")
    assert sum(len(b) for b in folder_bytes(study).values()) <= 2_000_000


def output_text(nb) -> str:
    return json.dumps([o for c in nb.cells for o in c.get("outputs", [])], ensure_ascii=False)


def test_all_six_notebooks_are_there():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_headless(path, tenant_env):
    before = [folder_bytes(study) for study in STUDIES]
    # cell timeout below pytest's 300 s: a hung cell is interrupted and its traceback shown
    nb, error = report.execute(path, timeout=240)
    assert error is None, failure(nb, error)
    # a replay never rewrites a committed study
    assert [folder_bytes(study) for study in STUDIES] == before
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = json.dumps(outputs)
    assert tenant_env.password not in text  # no secret reaches a notebook
    for device_id in expected_devices(path.stem, tenant_env.world):
        assert device_id in text, f"{path.stem} does not show {device_id}"
    if path.stem.startswith("03"):  # defect 3: the night_flow table itself shows the leak
        cell = next(c for c in nb.cells if c.source.rstrip().endswith("\nleaks"))
        shown = json.dumps(cell.get("outputs", []))
        world = tenant_env.world
        leak = expected_devices(path.stem, world)[:1]
        inlet = world.devices.index[world.devices["name"] == "Main water inlet"]
        assert leak and leak[0].endswith("1133") and leak[0] in shown, shown[:500]
        assert not [d for d in inlet if d in shown]  # never at rest, but not a leak


def expected_devices(stem: str, world) -> list[str]:
    """Devices a notebook must name, from the simulator's ground truth (demo org)."""
    import pandas as pd

    demo = world.devices.index[world.devices["organization_id"] == DEMO_ORG]
    an = world.anomalies[world.anomalies["device_id"].isin(demo)]

    def kind(k: str, lo: str, hi: str) -> list[str]:
        rows = an[
            (an["kind"] == k) & (an["end"] >= pd.Timestamp(lo)) & (an["start"] < pd.Timestamp(hi))
        ]
        return sorted(set(rows["device_id"]))

    if stem.startswith("01"):  # the guide week: a meter with a whole UTC day without data
        return kind("gap", "2026-05-18T22:00Z", "2026-05-25T22:00Z")
    if stem.startswith("03"):  # the leak, the open misread, the weak radio, the low battery
        leak = kind("night_flow", "2026-08-31T22:00Z", "2026-09-14T22:00Z")
        scan = ("2026-10-09T22:00Z", "2026-11-09T21:00Z")
        spikes = [
            d
            for d in kind("spike", *scan)
            if "uncorrected" in " ".join(an.loc[an["device_id"] == d, "detail"])
        ]
        return leak + spikes + kind("weak_signal", *scan) + kind("low_battery", *scan)
    return []


def test_study_records_then_replays_offline(tenant_env, tmp_path, monkeypatch):
    """Notebook 5, parameterised for another org and month, records a new study; a second
    run with no server address at all replays it and reproduces the recorded numbers; its
    HTML is written for readers."""
    path = next(p for p in NOTEBOOKS if "report" in p.stem)
    study = tmp_path / "south-2026-10"
    params = {"study_path": str(study), "month": "2026-10", "org": SOUTH_ORG}
    nb, error = report.execute(path, parameters=params, timeout=300)
    assert error is None, failure(nb, error)
    assert "Harbour View Strata — October 2026 (Australia/Sydney)" in output_text(nb)
    manifest = json.loads((study / "manifest.json").read_text())
    assert manifest["params"] == {"org": SOUTH_ORG, "month": "2026-10"}
    assert manifest["orgs"] == [SOUTH_ORG] and manifest["base_url"] == tenant_env.base_url
    assert manifest["versions"]["requests-cache"]
    assert any(
        k.startswith("electricity|") for k in manifest["results"]["totals"]["value"]["value"]
    )
    assert_no_secrets(study, tenant_env.password)
    for var in report.ENV_VARS:  # no address, no credentials: the replay must not need them
        monkeypatch.delenv(var)
    before = folder_bytes(study)
    workbook = tmp_path / "report.xlsx"
    nb, error = report.execute(path, parameters={**params, "workbook": str(workbook)}, timeout=300)
    assert error is None, failure(nb, error)  # study.check raises StudyMismatch otherwise
    assert "Study south-2026-10 (replayed offline): recorded " in output_text(nb)
    assert folder_bytes(study) == before
    # the workbook holds the report's tables: the totals are the recorded numbers
    import pandas as pd

    sheets = pd.read_excel(workbook, sheet_name=None)
    assert {"Consumption", "Load KPIs", "Costs", "CO2", "Open issues", "Provenance"} <= set(sheets)
    consumption = sheets["Consumption"].set_index(["meter_type", "unit"])
    recorded = manifest["results"]["totals"]["value"]["value"]
    for (kind, unit), row in consumption.iterrows():
        value = recorded[f"{kind}|{unit}|2026-10"]["value"]
        assert row["2026-10"] == pytest.approx(value, rel=1e-12)
    assert any("(Australia/Sydney)" in c for c in sheets["Load KPIs"].columns)
    provenance = sheets["Provenance"].set_index("item")["value"]
    assert "Harbour View Strata" in provenance["organization"]

    html = report.export_html(nb, tmp_path / "report.html").read_text()
    assert "wf.Study(" not in html and "study.check(" not in html  # no code for readers
    summary = html.index("wall-clock time: Australia/Sydney")
    assert summary < html.index("One telemetry call per meter and month")  # the sections
    for section in (
        "Heat and gas, weather-normalised",
        "Load: baseload, out-of-hours use and peaks",
        "Cost from the example tariff table",
        "Share of each local day backed by readings",
    ):
        assert summary < html.index(section), section
    assert html.rindex("Study south-2026-10 (replayed offline)") > html.index("Open data issues")
    assert "pandas " in html[html.rindex("Study south-2026-10") :]
    import jupytext

    assert report.is_report(nb) and not report.is_report(jupytext.read(NOTEBOOKS[0]))


def test_report_main_writes_html_image_and_fails_on_cell_error(tenant_env, tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "01-good.py").write_text(
        "# %%\nimport matplotlib.pyplot as plt\n"
        "# %% tags=[\"readme-image\"]\nplt.plot([1, 2, 3]); plt.title('hello'); plt.show()\n"
    )
    (folder / "02-bad.py").write_text("# %%\nraise RuntimeError('boom in a cell')\n")
    out, image = tmp_path / "reports", tmp_path / "img" / "readme.png"
    code = report.main(["--notebooks", str(folder), "--out", str(out), "--image", str(image)])
    assert code == 1
    assert (out / "01-good.html").exists() and (out / "02-bad.html").exists()
    assert "boom in a cell" in (out / "02-bad.html").read_text()
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    index = (out / "index.html").read_text()
    assert "01-good.html" in index and "FAILED" in index
    shutil.rmtree(out)
    code = report.main(
        ["--notebooks", str(folder), "--out", str(out), "--image", str(image), "--only", "good"]
    )
    assert code == 0
    (out / "00-old.html").write_text("<p>old</p>")
    report.main(
        ["--notebooks", str(folder), "--out", str(out), "--image", str(image), "--only", "good"]
    )
    index = (out / "index.html").read_text()
    assert "00-old.html</a> — from an earlier run" in index and "01-good.html</a> — ok" in index


def test_report_notebooks_write_their_workbook_into_the_reports_folder(tmp_path):
    """make report: a report notebook's tables go to reports/<name>.xlsx; others get none."""
    report_nb = next(p for p in NOTEBOOKS if "report" in p.stem)
    params = report.study_parameters(report_nb, tmp_path, tenant=False, refresh=False)
    assert params == {"workbook": str((tmp_path / f"{report_nb.stem}.xlsx").resolve())}
    refresh = report.study_parameters(report_nb, tmp_path, tenant=False, refresh=True)
    assert refresh["study_mode"] == "record" and refresh["workbook"] == params["workbook"]
    assert report.study_parameters(NOTEBOOKS[0], tmp_path, tenant=False, refresh=False) == {}


def test_notebook_paths_rejects_unknown_selection():
    with pytest.raises(ValueError, match=r"matches \['nope'\]"):
        report.notebook_paths(ROOT / "notebooks", ["nope"])


def test_readme_example_runs_and_draws_the_carpet():
    import re

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    readme = (ROOT / "README.md").read_text()
    example = readme.split("## Example", 1)[1]
    code = re.search(r"```python\n(.*?)```", example, re.S).group(1)
    assert len(code.strip().splitlines()) <= 12
    plt.close("all")
    exec(compile(code, "README.md", "exec"), {})
    ax = plt.gcf().axes[0]
    assert ax.images[0].get_array().shape == (30, 24)  # November, local days x hours
    assert plt.gcf().axes[-1].get_ylabel() == "consumption per hour [kWh]"
    plt.close("all")


def test_recorded_study_numbers_match_the_ground_truth(waltero_sim):
    """The committed study's totals per meter type and local month, recomputed from the
    simulator's ground truth registers (last reading before each local month boundary)."""
    import numpy as np
    import pandas as pd

    manifest = json.loads((DEMO_STUDY / "manifest.json").read_text())
    (org,) = manifest["orgs"]
    totals = manifest["results"]["totals"]["value"]["value"]
    recorded = {key: item["value"] for key, item in totals.items()}
    world = waltero_sim.world
    tz = world.orgs.loc[org, "timezone"]
    devices = world.devices[world.devices["organization_id"] == org]
    month = pd.Period(manifest["params"]["month"], "M")
    expected: dict[str, float] = {}
    for m in (month - 1, month):
        lo = m.start_time.tz_localize(tz).value // 10**6
        hi = (m + 1).start_time.tz_localize(tz).value // 10**6
        for device_id, dev in devices.iterrows():
            ts, values = world.series(device_id, "meter.value.processed")
            before_lo, before_hi = np.searchsorted(ts, [lo, hi]) - 1
            used = values[before_hi] - values[before_lo]
            unit, factor = {  # the report's units: heat in kWh, gas in kWh at its defaults
                "MWh": ("kWh", 1000.0),
                "m3": ("kWh", 0.95 * 11.2) if dev["meter_type"] == "gas" else ("m3", 1.0),
            }.get(dev["unit"], (dev["unit"], 1.0))
            key = f"{dev['meter_type']}|{unit}|{m}"
            expected[key] = expected.get(key, 0.0) + used * factor
    assert expected.keys() == recorded.keys()
    for key, value in recorded.items():
        assert value == pytest.approx(expected[key], abs=1e-3), key


def test_notebook_starts_its_own_simulator_without_settings(monkeypatch):
    """With no WALTERO_* settings a notebook starts the bundled simulator itself."""
    for var in report.ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    path = next(p for p in NOTEBOOKS if "quick-start" in p.stem)
    nb, error = report.execute(path, timeout=300)
    assert error is None, failure(nb, error)
    text = output_text(nb)
    assert "bundled simulator: http://127.0.0.1:" in text
    assert "logged in as analyst@example.com" in text


def test_api_environment_starts_a_simulator_and_restores_the_settings(monkeypatch):
    import requests

    for var in report.ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    assert not report.tenant_configured()
    with report.api_environment() as where:
        assert where.startswith("bundled simulator at http://127.0.0.1:")
        assert report.tenant_configured()
        base = os.environ["WALTERO_BASE_URL"]
        login = requests.post(
            f"{base}/api/auth/login",
            json={
                "username": os.environ["WALTERO_USERNAME"],
                "password": os.environ["WALTERO_PASSWORD"],
            },
            timeout=10,
        )
        assert login.status_code == 200
    assert not report.tenant_configured()
    monkeypatch.setenv("WALTERO_BASE_URL", "https://tenant.example")
    monkeypatch.setenv("WALTERO_USERNAME", "u")
    monkeypatch.setenv("WALTERO_PASSWORD", "not-a-real-password")
    with report.api_environment() as where:  # a configured tenant: nothing started
        assert where == "tenant https://tenant.example (from WALTERO_* settings)"
