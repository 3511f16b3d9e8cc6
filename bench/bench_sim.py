"""The simulator must not be the bottleneck of the toolkit's own benchmarks.

* small calls (``GET /api/auth/me``) per second on loopback, the server in its own process
  (``running(process=True)``), driven by a concurrent client in other processes (Debian's
  ``wrk`` when installed, else keep-alive ``requests`` sessions on threads); side by side
  with the floor of the same stack (a bare uvicorn app answering a constant JSON);
* small-call latency on one keep-alive connection, ours vs the naive stdlib
  ``http.server`` (the ~40 ms Nagle/delayed-ACK stall of field-notes.md);
* server time of a 31-day, 15-minute telemetry answer (the request log's ``ms``), with
  the in-process cost of building that body vs a naive per-point formatter and the
  floor (serializing the ready-made payload).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import requests

from bench.harness import result

GUIDE_DEVICE = "11111111-1111-1111-1111-111111111101"  # 15-min cadence
FIELDS = ["meter.value.processed", "meter.value.raw", "battery.voltage", "connection.rssi"]
START, END = "2026-05-01T00:00:00.000Z", "2026-06-01T00:00:00.000Z"  # 31 days

# A load generator process: threads with keep-alive sessions hammering one URL.
_CLIENT = r"""
import json, sys, threading, time, requests
url, token, threads, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
counts = []
def worker():
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + token
    ok = bad = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if s.get(url).status_code == 200: ok += 1
        else: bad += 1
    counts.append((ok, bad))
ts = [threading.Thread(target=worker) for _ in range(threads)]
t0 = time.perf_counter()
[t.start() for t in ts]; [t.join() for t in ts]
print(json.dumps({"ok": sum(c[0] for c in counts), "bad": sum(c[1] for c in counts),
                  "seconds": time.perf_counter() - t0}))
"""

# The floor: the same server stack (uvicorn) with a bare ASGI app and no middleware.
_FLOOR = r"""
import socket, sys, uvicorn
BODY = b'{"user":{"id":"u-0001"}}'
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); sock.listen(1024)
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning",
                              access_log=False)).run(sockets=[sock])
"""

# The naive way: the stdlib server, HTTP/1.1 keep-alive, no TCP_NODELAY.
_NAIVE = r"""
import http.server, json
BODY = b'{"user":{"id":"u-0001"}}'
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"""


def _spawn(code: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def load(url: str, token: str, seconds: float, *, connections: int = 16) -> dict:
    """Requests/s against ``url`` from other processes (wrk if installed)."""
    wrk = shutil.which("wrk")
    if wrk:
        out = subprocess.run(
            [
                wrk,
                "-t2",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "-H",
                f"Authorization: Bearer {token}",
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rps = float(out.split("Requests/sec:")[1].split()[0])
        bad = int(out.split("Non-2xx or 3xx responses:")[1].split()[0]) if "Non-2xx" in out else 0
        return {"rps": rps, "errors": bad, "client": f"wrk -t2 -c{connections}"}
    procs_n, threads = 2, max(1, connections // 2)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLIENT, url, token, str(threads), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(procs_n)
    ]
    outs = [json.loads(p.communicate()[0]) for p in procs]
    ok = sum(o["ok"] for o in outs)
    return {
        "rps": ok / max(o["seconds"] for o in outs),
        "errors": sum(o["bad"] for o in outs),
        "client": f"python requests, {procs_n} processes x {threads} threads",
    }


def latency_ms(url: str, token: str, n: int) -> float:
    """Median latency of sequential small calls on one keep-alive connection."""
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    s.get(url)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        s.get(url)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def _login(sim) -> str:
    return requests.post(
        sim.url("/api/auth/login"), json={"username": sim.username, "password": sim.password}
    ).json()["token"]


def _naive_telemetry_body(world, device, fields, start, end) -> bytes:
    """Per-point formatting with pandas Timestamps and the stdlib json module."""
    import pandas as pd

    out = {}
    for f in fields:
        ts, values = world.window(device, f, pd.Timestamp(start), pd.Timestamp(end))
        out[f] = [
            {
                "ts": pd.Timestamp(int(t), unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[
                    :-3
                ]
                + "Z",
                "value": v.item(),
            }
            for t, v in zip(ts, values, strict=True)
        ]
    return json.dumps({"deviceId": device, "fields": out}).encode()


def telemetry_in_process(repeat: int) -> dict:
    import orjson
    import pandas as pd

    from bench.harness import best_time
    from waltero_frames.sim.app.app import create_app
    from waltero_frames.sim.world.model import World

    _, state = create_app(World.for_seed(0))
    lo = pd.Timestamp(START).value // 10**6
    hi = pd.Timestamp(END).value // 10**6
    ours = best_time(lambda: state.telemetry_body(GUIDE_DEVICE, FIELDS, lo, hi), repeat)
    naive = best_time(
        lambda: _naive_telemetry_body(state.world, GUIDE_DEVICE, FIELDS, START, END), 1
    )
    payload = orjson.loads(state.telemetry_body(GUIDE_DEVICE, FIELDS, lo, hi))
    floor = best_time(lambda: orjson.dumps(payload), repeat)
    points = sum(len(v) for v in payload["fields"].values())
    return {
        "ours_ms": ours * 1000,
        "naive_ms": naive * 1000,
        "floor_ms": floor * 1000,
        "points": points,
    }


def run(quick: bool) -> list[dict]:
    from waltero_frames.sim import running

    seconds = 1.0 if quick else 8.0
    rows = []
    floor_proc, floor_port = _spawn(_FLOOR)
    naive_proc, naive_port = _spawn(_NAIVE)
    try:
        with running(seed=0, process=True, rate=None, login_limit=None) as sim:
            token = _login(sim)
            me = sim.url("/api/auth/me")
            ours = load(me, token, seconds)
            floor = load(f"http://127.0.0.1:{floor_port}/", token, seconds)
            rows.append(
                result(
                    "sim_small_calls_per_s",
                    ratio=ours["rps"] / 1000,
                    target=">= 1",
                    size=f"GET /api/auth/me, {seconds:g} s",
                    ours_rps=round(ours["rps"]),
                    floor_rps=round(floor["rps"]),
                    ours_share_of_floor=round(ours["rps"] / floor["rps"], 3),
                    errors=ours["errors"],
                    client=ours["client"],
                    cpus=os.cpu_count(),
                )
            )

            n = 40 if quick else 200
            ours_lat = latency_ms(me, token, n)
            naive_lat = latency_ms(f"http://127.0.0.1:{naive_port}/", token, min(n, 40))
            floor_lat = latency_ms(f"http://127.0.0.1:{floor_port}/", token, n)
            rows.append(
                result(
                    "sim_small_call_latency_keepalive",
                    ratio=ours_lat / 5.0,
                    target="<= 1",
                    size=f"{n} sequential calls, one connection",
                    ours_ms=round(ours_lat, 3),
                    naive_stdlib_ms=round(naive_lat, 3),
                    floor_ms=round(floor_lat, 3),
                    note="target 5 ms: no 40 ms Nagle stall",
                )
            )

            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {token}"
            url = sim.url(f"/api/devices/{GUIDE_DEVICE}/telemetry")
            params = {"startDate": START, "endDate": END, "fields": ",".join(FIELDS)}
            reps = 10 if quick else 40
            client_ms, size = [], 0
            for _ in range(reps):
                t0 = time.perf_counter()
                resp = s.get(url, params=params)
                client_ms.append((time.perf_counter() - t0) * 1000)
                size = len(resp.content)
                assert resp.status_code == 200
            server_ms = [r["ms"] for r in sim.log if r["route"] == "telemetry"]
        inproc = telemetry_in_process(5 if quick else 20)
        med = statistics.median(server_ms)
        rows.append(
            result(
                "sim_telemetry_31d_15min_server_ms",
                ratio=med / 20.0,
                target="<= 1",
                size=f"31 days x 4 fields, {inproc['points']} points, {size} bytes",
                server_ms_median=round(med, 2),
                client_ms_median=round(statistics.median(client_ms), 2),
                body_ours_ms=round(inproc["ours_ms"], 2),
                body_naive_ms=round(inproc["naive_ms"], 2),
                body_floor_ms=round(inproc["floor_ms"], 2),
                naive_over_ours=round(inproc["naive_ms"] / inproc["ours_ms"], 1),
            )
        )
    finally:
        _stop(floor_proc)
        _stop(naive_proc)
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
