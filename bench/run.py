"""Run every benchmark: ``python -m bench.run [--quick] [--only NAME]``.

Each ``bench/bench_*.py`` exposes ``run(quick: bool) -> list[dict]`` (records built with
``bench.harness.result``). Every module runs in a fresh Python process (its ratios are
measured side by side inside that one process run), so each gets its own peak memory
figure (``module_peak_rss_mb``, the module process itself: a simulator server or memory
probe it starts is not included — those report their own figures) and its wall time, and
one module's memory or crash cannot distort the next one.

Results go to ``bench/results/run-<stamp>.json`` (one file per run: date, machine,
command, wall time, records, failed modules, issue-target check) and, for a complete
full run, to ``bench/results/latest.json`` (the list of records) and the table in
``bench/README.md``. Quick or ``--only`` runs write ``latest-quick.json`` /
``latest-partial.json`` instead, so they never clobber the committed full results.

After the table the runner checks that every target named in the client, helpers and
mirror issues (3, 4, 5), the scaling target (7) and the report's load KPIs (13) has a
record, and prints them side by side with their measured ratio and whether they are
met; a missing one is listed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pkgutil
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
CORE = {"name", "size", "ratio", "target", "met"}
HIDDEN = {"module", "module_seconds", "module_peak_rss_mb"}
MODULE_TIMEOUT = 1800.0


def discover() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))


# ---------------------------------------------------------------- issue targets
def _num(pattern: str, text: str) -> float:
    """First number captured by ``pattern`` in ``text`` (commas allowed), else 0."""
    m = re.search(pattern, text)
    return float(m.group(1).replace(",", "")) if m else 0.0


# (issue, what the issue asks, its target, name pattern, size check of a full run)
ISSUE_TARGETS: list[tuple[str, str, str, str, Callable[[dict], bool]]] = [
    (
        "3",
        "(1) fetch 40+ meters x 3 months, 20 ms latency, no limit: ours vs naive loop",
        ">= 5x faster",
        r"^client fetch",
        lambda r: _num(r"(\d+) meters", r["size"]) >= 40 and "x 3 month" in r["size"],
    ),
    (
        "3",
        "(2) limit 20 req/s, >= 400 requests: achieved rate / limit, every 429 recovered",
        ">= 0.8",
        r"^client rate",
        lambda r: _num(r"^([\d,]+) requests", r["size"]) >= 400 and bool(r.get("recovered")),
    ),
    ("3", "(3) JSON -> frame vs json.loads alone", "<= 2x", r"^client parse", lambda r: True),
    (
        "3",
        "(4) offline replay of (1) from its warm cache vs json.loads of the cached bodies",
        "<= 3x",
        r"^client replay",
        lambda r: True,
    ),
    (
        "4",
        "consumption + resample('D', tz) on 1,000 devices x 1 year hourly vs per-device "
        "groupby().apply()",
        ">= 5x faster",
        r"^consumption\+resample_D vs per-device",
        lambda r: _num(r"^(\d+) devices x 8760", r["size"]) >= 1000,
    ),
    (
        "4",
        "flag_anomalies on its own: time per million readings",
        "(a figure; bench sets <= 1 s)",
        r"^flag_anomalies s per million",
        lambda r: _num(r"^(\d+) devices x 8760", r["size"]) >= 1000,
    ),
    *(
        (
            "4",
            f"peak RSS of {step} in a fresh process / input frame's resident size",
            "<= 2.5",
            rf"^rss_{step}\b",
            lambda r: _num(r"^(\d+) devices x 8760", r["size"]) >= 1000,
        )
        for step in ("consumption", "resample", "flag_anomalies")
    ),
    (
        "4",
        "flag_anomalies recovers the demo org's injected anomalies: precision and recall "
        "per flag type",
        ">= 0.9",
        r"^anomaly recovery",
        lambda r: True,
    ),
    (
        "5",
        "incremental sync with no news: requests made",
        "a handful (bench: <= 6)",
        r"^mirror_incremental_no_news",
        lambda r: True,
    ),
    (
        "5",
        "apply 100,000 changes to a 10 M-reading mirror (ratio = seconds / 30)",
        "< 30 s",
        r"^mirror_apply_changes",
        lambda r: (
            _num(r"^([\d,]+) changes", r["size"]) >= 100_000
            and _num(r"onto ([\d,]+) readings", r["size"]) >= 10_000_000
        ),
    ),
    (
        "11",
        "offline replay of a study (a whole org, >= 1 month) vs json.loads of its recorded bodies",
        "<= 2x",
        r"^study replay",
        lambda r: _num(r"^(\d+) meters x", r["size"]) >= 40,
    ),
    (
        "11",
        "a one-month study of the demo org replayed from a cold start (ratio = seconds / 1)",
        "< 1 s",
        r"^study cold replay",
        lambda r: True,
    ),
    (
        "12",
        "fit auto baselines for 1,000 devices x 2 years of days",
        "< 1 s",
        r"^baseline fit s",
        lambda r: _num(r"^(\d+) devices x 730", r["size"]) >= 1000,
    ),
    (
        "12",
        "auto baselines: ours vs a per-device loop of least-squares calls",
        "(a figure; bench sets >= 5x)",
        r"^baseline fit vs per-device",
        lambda r: _num(r"^(\d+) devices x 730", r["size"]) >= 1000,
    ),
    (
        "13",
        "load_kpis on 1,000 devices x 1 year of 15-min consumption vs per-device groupby().apply()",
        ">= 5x faster",
        r"^load_kpis vs per-device",
        lambda r: _num(r"^(\d+) devices x 1 year", r["size"]) >= 1000,
    ),
    (
        "13",
        "peak RSS of load_kpis in a fresh process / input frame's resident size",
        "<= 2.5",
        r"^rss_load_kpis\b",
        lambda r: _num(r"^(\d+) devices x 1 year", r["size"]) >= 1000,
    ),
    (
        "14",
        "consumption + local-day resample, 8.7 M hourly readings of 1,000 devices with "
        "object-dtype ids, vs per-device groupby('device_id').apply()",
        ">= 3x faster",
        r"^consumption\+resample_D, object device ids",
        lambda r: _num(r"^(\d+) devices x 8760", r["size"]) >= 1000,
    ),
    (
        "14",
        "local-day consumption of 200 M readings (Dask): peak RSS of all processes, GiB",
        "<= 3 GiB",
        r"^scale local-day consumption",
        lambda r: _num(r"= ([\d.]+) M readings", r["size"]) >= 190,
    ),
    (
        "14",
        "cost per reading at 200 M / at 20 M",
        "<= 1.3",
        r"^scale cost per reading",
        lambda r: _num(r"^([\d.]+) M vs", r["size"]) >= 190,
    ),
    (
        "14",
        "mirror export of 50 M readings at bounded memory (peak RSS 50 M / 5 M)",
        "bounded (bench: <= 1.5)",
        r"^mirror export peak RSS",
        lambda r: _num(r"^([\d.]+) M vs", r["size"]) >= 50,
    ),
    *(
        (
            "7",
            f"scaling of {p}: per-reading cost at the large size / at the small size",
            "<= 1.5",
            rf"^scaling {re.escape(p)}:",
            lambda r: True,
        )
        for p in ("parse", "consumption+resample_D", "flag_anomalies", "fetch")
    ),
]


def check_targets(rows: list[dict], quick: bool) -> tuple[list[dict], list[str]]:
    """Each issue target with its record (or missing), and whether the size is the asked one."""
    out, missing = [], []
    for issue, what, target, pattern, size_ok in ISSUE_TARGETS:
        hits = [r for r in rows if re.search(pattern, r["name"])]
        if not hits:
            missing.append(f"issue {issue}: {what}")
            out.append({"issue": issue, "what": what, "issue_target": target, "found": False})
            continue
        r = hits[0]
        try:
            full_size = bool(size_ok(r))
        except Exception:
            full_size = False
        out.append(
            {
                "issue": issue,
                "what": what,
                "issue_target": target,
                "found": True,
                "name": r["name"],
                "ratio": r["ratio"],
                "target": r["target"],
                "met": r["met"],
                "size": r["size"],
                "asked_size": full_size or quick,
            }
        )
    return out, missing


def targets_table(checked: list[dict], quick: bool) -> str:
    lines = [
        "| issue | what the issue asks | issue target | benchmark | measured | bench target "
        "| met |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in checked:
        if not c["found"]:
            lines.append(
                f"| {c['issue']} | {c['what']} | {c['issue_target']} | **missing** | — | — | — |"
            )
            continue
        size_note = "" if c["asked_size"] else " (below the asked size)"
        met = "yes" if c["met"] else "**no**"
        lines.append(
            f"| {c['issue']} | {c['what']} | {c['issue_target']} | {c['name']} "
            f"[{c['size']}]{size_note} | {c['ratio']} | {c['target']} | {met} |"
        )
    if quick:
        lines.append("")
        lines.append("(quick sizes: the asked sizes are those of `make bench`)")
    return "\n".join(lines)


# ---------------------------------------------------------------- table
def _fmt(v: object) -> str:
    s = str(v)
    return s if len(s) <= 60 else s[:57] + "..."


def table(rows: list[dict]) -> str:
    lines = [
        "| benchmark | size | ratio | target | met | figures | peak RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        extra = ", ".join(f"{k}={_fmt(v)}" for k, v in r.items() if k not in CORE | HIDDEN)
        rss = r.get("module_peak_rss_mb", "")
        lines.append(
            f"| {r['name']} | {r['size']} | {r['ratio']} | {r['target']} | "
            f"{'yes' if r['met'] else '**no**'} | {extra} | {rss} |"
        )
    return "\n".join(lines)


def scaling_table(rows: list[dict]) -> str:
    """The ``scaling *`` records as one table: s per million readings at each size."""
    lines = [
        "| pipeline | small | medium | large | large / small | met | "
        "peak MiB per M readings (s, m, l) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if not r["name"].startswith("scaling "):
            continue
        cells = []
        for size in ("small", "medium", "large"):
            cell = f"{r.get(f'{size}_size', '?')}: {r.get(f'{size}_s_per_M', '?')} s/M"
            floor = r.get(f"{size}_decode_only_s_per_M")
            cells.append(cell + (f" (decode only {floor})" if floor is not None else ""))
        name = r["name"].removeprefix("scaling ").split(":")[0]
        lines.append(
            f"| {name} | {' | '.join(cells)} | {r['ratio']} | {'yes' if r['met'] else '**no**'} "
            f"| {r.get('peak_mb_per_M', '—')} |"
        )
    return "\n".join(lines) if len(lines) > 2 else ""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        mem_s = f", {mem:.0f} GiB RAM"
    except (ValueError, OSError):
        mem_s = ""
    return (
        f"{cpu}, {os.cpu_count()} cores{mem_s}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


# ---------------------------------------------------------------- running
def child(name: str, quick: bool, out: Path) -> int:
    """Run one bench module in this (fresh) process and write its records to ``out``."""
    import importlib

    t0 = time.perf_counter()
    mod = importlib.import_module(f"bench.{name}")
    rows = mod.run(quick)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for r in rows:
        r.setdefault("module", name)
        r["module_seconds"] = round(seconds, 1)
        r["module_peak_rss_mb"] = round(peak, 1)
    out.write_text(json.dumps(rows, default=str))
    return 0


def run_module(name: str, quick: bool) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        out = Path(tmp) / "rows.json"
        cmd = [sys.executable, "-m", "bench.run", "--child", name, "--json", str(out)]
        if quick:
            cmd.append("--quick")
        subprocess.run(cmd, cwd=ROOT, check=True, timeout=MODULE_TIMEOUT)
        return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes only (CI smoke)")
    ap.add_argument("--only", action="append", default=[], help="run only these bench modules")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON results")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child, args.quick, args.json)
    names = discover()
    unknown = [o for o in args.only if o not in names and f"bench_{o}" not in names]
    if unknown:
        ap.error(f"unknown bench module(s) {unknown}; known: {names}")
    rows: list[dict] = []
    failed: list[str] = []
    t_start = time.perf_counter()
    for name in names:
        if args.only and name not in args.only and name.removeprefix("bench_") not in args.only:
            continue
        print(f"== {name}", flush=True)
        try:
            got = run_module(name, args.quick)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        for r in got:
            print(
                f"   {r['name']} [{r['size']}]: ratio {r['ratio']} (target {r['target']}, "
                f"{'met' if r['met'] else 'NOT met'})",
                flush=True,
            )
        if got:
            print(f"   ({got[0]['module_seconds']} s, peak RSS {got[0]['module_peak_rss_mb']} MiB)")
        rows.extend(got)
    wall = time.perf_counter() - t_start
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    complete = not args.only
    command = "make bench-quick" if args.quick else "make bench"
    if args.only:
        command = "python -m bench.run" + " --quick" * args.quick
        command += "".join(f" --only {o}" for o in args.only)
    checked, missing = check_targets(rows, args.quick)
    doc = {
        "date": stamp,
        "machine": machine(),
        "quick": args.quick,
        "command": command,
        "wall_seconds": round(wall, 1),
        "results": rows,
        "failed": failed,
        "issue_targets": checked,
        "missing_targets": missing if complete else [],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"run-{stamp}.json").write_text(json.dumps(doc, indent=2, default=str))
    latest = (
        "latest-quick.json" if args.quick else "latest.json" if complete else "latest-partial.json"
    )
    (args.out / latest).write_text(json.dumps(rows, indent=2, default=str))
    text = table(rows)
    print()
    print(text)
    targets = targets_table(checked, args.quick)
    if complete:
        print()
        print(targets)
    print(f"\nwall time {wall:.0f} s; results in {args.out / latest}")
    if complete and missing:
        print("\nissue targets without a benchmark record:", file=sys.stderr)
        for m in missing:
            print(f"  - {m}", file=sys.stderr)
    if not args.quick and complete and args.out == RESULTS and not failed:
        readme = HERE / "README.md"
        scal = scaling_table(rows)
        body = readme.read_text() if readme.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
        head, _, rest = body.partition(BEGIN)
        _, _, tail = rest.partition(END)
        block = (
            f"{BEGIN}\nMeasured {stamp} on {doc['machine']} with `{command}` "
            f"(wall time {wall / 60:.1f} min; each module in its own process).\n\n"
            f"### The targets of issues 3, 4, 5 (and 7's scaling)\n\n{targets}\n\n"
            + (f"### Scaling (s per million readings)\n\n{scal}\n\n" if scal else "")
            + f"### Every record\n\n{text}\n{END}"
        )
        readme.write_text(head + block + tail)
    if failed:
        print(f"\nbenchmarks that failed to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
