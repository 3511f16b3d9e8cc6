"""CI smoke run of the benchmarks: they run at their quick sizes and write their JSON.

Timings are never asserted here (they belong to `make bench`); only that every benchmark
module runs and reports well-formed records.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {"name", "ratio", "target", "met", "size"}


@pytest.mark.timeout(600)
def test_quick_benchmarks_run_and_write_json(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    latest = json.loads((tmp_path / "latest-quick.json").read_text())
    assert not (tmp_path / "latest.json").exists(), "a quick run must not replace latest.json"
    runs = list(tmp_path.glob("run-*.json"))
    assert len(runs) == 1
    doc = json.loads(runs[0].read_text())
    assert doc["quick"] is True and doc["failed"] == []
    assert latest == doc["results"]
    modules = {r["module"] for r in latest}
    expected = {p.stem for p in (ROOT / "bench").glob("bench_*.py")}
    assert modules == expected, f"benchmarks that reported nothing: {expected - modules}"
    for row in latest:
        assert row.keys() >= REQUIRED, row
        assert isinstance(row["met"], bool)
        assert row["target"].split(" ")[0] in {">=", "<=", ">", "<"}
        assert row["ratio"] == row["ratio"], f"{row['name']}: ratio is NaN"
        assert row["module_peak_rss_mb"] > 0 and row["module_seconds"] >= 0, row
    # every target of the client, helpers and mirror issues (and the scaling one) has a record
    assert doc["missing_targets"] == [], doc["missing_targets"]
    assert all(t["found"] for t in doc["issue_targets"])
    # The committed README table is not touched by a quick run.
    assert "results:begin" in (ROOT / "bench" / "README.md").read_text()


def _row(name, size, ratio=1.0, target=">= 1", **extra):
    from bench.harness import result

    return result(name, ratio=ratio, target=target, size=size, **extra)


def test_target_check_names_a_missing_target_and_a_short_size():
    from bench.run import ISSUE_TARGETS, check_targets, targets_table

    rows = [
        _row("client fetch: ours vs naive", "16 meters x 1 month(s), 20 ms latency", 6.0),
        _row("client rate: achieved", "405 requests at limit 20/s", 0.9, recovered=True),
        _row("mirror_apply_changes", "100,000 changes onto 10,000,000 readings", 0.3, "<= 1"),
    ]
    checked, missing = check_targets(rows, quick=False)
    assert len(checked) == len(ISSUE_TARGETS)
    by_name = {c.get("name"): c for c in checked if c["found"]}
    assert by_name["client fetch: ours vs naive"]["asked_size"] is False  # 16 meters, 1 month
    assert by_name["client rate: achieved"]["asked_size"] is True
    assert by_name["mirror_apply_changes"]["asked_size"] is True
    assert any("client parse" not in m and "JSON -> frame" in m for m in missing)
    assert not any("100,000 changes" in m for m in missing)
    text = targets_table(checked, quick=False)
    assert "**missing**" in text and "(below the asked size)" in text


def test_harness_result_evaluates_each_comparison():
    assert _row("a", "s", 5.0, ">= 5")["met"] is True
    assert _row("a", "s", 4.99, ">= 5")["met"] is False
    assert _row("a", "s", 2.0, "<= 2")["met"] is True
    assert _row("a", "s", 2.0, "< 2")["met"] is False
    assert _row("a", "s", 1.23456, "> 1")["ratio"] == 1.235


def test_full_run_rewrites_only_the_results_block(tmp_path, monkeypatch):
    import bench.run as runner

    readme = tmp_path / "README.md"
    readme.write_text(
        "# Benchmarks\n\nintro\n\n<!-- results:begin -->\nold table\n<!-- results:end -->\n\n"
        "## Client narrative\n\nkept\n"
    )
    rows = [
        {
            **_row("scaling parse: s per M readings, large / small", "1 -> 9 readings", 1.2),
            "small_size": "1 dev",
            "small_s_per_M": 1.0,
            "medium_size": "2 dev",
            "medium_s_per_M": 1.1,
            "large_size": "3 dev",
            "large_s_per_M": 1.2,
            "module": "bench_x",
            "module_seconds": 0.1,
            "module_peak_rss_mb": 50.0,
        }
    ]
    monkeypatch.setattr(runner, "HERE", tmp_path)
    monkeypatch.setattr(runner, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(runner, "discover", lambda: ["bench_x"])
    monkeypatch.setattr(runner, "run_module", lambda name, quick: [dict(r) for r in rows])
    assert runner.main([]) == 0
    text = readme.read_text()
    assert "old table" not in text and text.count("<!-- results:begin -->") == 1
    assert text.startswith("# Benchmarks\n\nintro\n") and text.endswith(
        "## Client narrative\n\nkept\n"
    )
    assert "with `make bench`" in text and "| parse | 1 dev: 1.0 s/M" in text
    assert "**missing**" in text  # the other issue targets have no record in this run
    latest = json.loads((tmp_path / "results" / "latest.json").read_text())
    assert latest[0]["name"].startswith("scaling parse")
