"""Run every benchmark: ``python -m bench.run [--quick] [--only NAME]``.

Each ``bench/bench_*.py`` exposes ``run(quick: bool) -> list[dict]``. Results are written
to ``bench/results/run-<stamp>.json`` and ``bench/results/latest.json`` and printed as a table;
a full (non-quick) run also rewrites the table in ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import pkgutil
import platform
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def discover() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))


def table(rows: list[dict]) -> str:
    lines = ["| benchmark | size | ratio | target | met | figures |", "|---|---|---|---|---|---|"]
    for r in rows:
        extra = ", ".join(
            f"{k}={v}" for k, v in r.items() if k not in {"name", "size", "ratio", "target", "met"}
        )
        lines.append(
            f"| {r['name']} | {r['size']} | {r['ratio']} | {r['target']} | "
            f"{'yes' if r['met'] else '**no**'} | {extra} |"
        )
    return "\n".join(lines)


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes only (CI smoke)")
    ap.add_argument("--only", action="append", default=[], help="run only these bench modules")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON results")
    args = ap.parse_args(argv)
    rows: list[dict] = []
    failed: list[str] = []
    for name in discover():
        if args.only and name not in args.only and name.removeprefix("bench_") not in args.only:
            continue
        print(f"== {name}", flush=True)
        try:
            mod = importlib.import_module(f"bench.{name}")
            got = mod.run(args.quick)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        for r in got:
            r.setdefault("module", name)
            print(
                f"   {r['name']} [{r['size']}]: ratio {r['ratio']} (target {r['target']}, "
                f"{'met' if r['met'] else 'NOT met'})",
                flush=True,
            )
        rows.extend(got)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    doc = {
        "date": stamp,
        "machine": machine(),
        "quick": args.quick,
        "command": "make bench-quick" if args.quick else "make bench",
        "results": rows,
        "failed": failed,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"run-{stamp}.json").write_text(json.dumps(doc, indent=2, default=str))
    (args.out / "latest.json").write_text(json.dumps(rows, indent=2, default=str))
    text = table(rows)
    print()
    print(text)
    if not args.quick and not args.only and args.out == RESULTS:
        readme = HERE / "README.md"
        body = readme.read_text() if readme.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
        head, _, rest = body.partition(BEGIN)
        _, _, tail = rest.partition(END)
        block = (
            f"{BEGIN}\nMeasured {stamp} on {machine()} with `{doc['command']}`.\n\n{text}\n{END}"
        )
        readme.write_text(head + block + tail)
    if failed:
        print(f"\nbenchmarks that failed to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
