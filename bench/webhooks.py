"""Benchmark the BVNK webhook endpoint against a minimal reference and a trivial view.

Starts gunicorn as the image runs it (sync workers, one request per process, the access
log on) on a fresh PostgreSQL database, serving the portal plus bench/_urls.py, then in
one run measures with wrk:
  - requests/s of GET /healthz (the trivial view: same server, same middleware);
  - a view that only answers, under the portal's middleware and under Django's default
    middleware (bench/_wsgi.py), so the portal's own middleware has a price;
  - signed deliveries of unique events (each one stored), to the portal's webhook and to
    the minimal reference (HMAC, json, one INSERT ... ON CONFLICT DO NOTHING);
  - re-deliveries of events already stored (the duplicate path);
  - deliveries with a bad signature (refused with 401);
every path checked for answers other than the one it must give; and, at a constant rate
of half the unique-ingest rate (wrk2-style, over as many connections as wrk used, the two
sides taking turns of a second), the p99 and p99.9 latency of the webhook and of the
trivial view, measured from each request's scheduled send time, so a slow answer cannot
hide the requests queued behind it.

Run: `make bench` (all benchmarks) or `.venv/bin/python bench/webhooks.py`. Needs wrk,
PostgreSQL and Redis on localhost (the defaults of .ci/run); see bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import psycopg
from _support import (
    MIDDLEWARE_GOAL,
    CpuMeter,
    add_database_argument,
    free_port,
    fresh_database,
    print_goals,
    print_profile,
    process_group,
    processes_named,
)

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-webhook-secret"
WEBHOOK_PATH = "/webhooks/bvnk/"
REFERENCE_PATH = "/bench/reference-webhook/"
TRIVIAL_PATH = "/healthz"
PORTAL_TRIVIAL_PATH = "/bench/trivial/"
DEFAULT_TRIVIAL_PATH = "/bench/default/trivial/"
LATENCY_ROUNDS = 10  # turns of each side in the latency phase

WRK_SCRIPT = r"""
local sigs, bodies, threads = {}, {}, {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  local file = io.open(args[1])
  for line in file:lines() do
    local sig, body = line:match("^([^\t]*)\t(.*)$")
    table.insert(sigs, sig)
    table.insert(bodies, body)
  end
  file:close()
  step = tonumber(args[2])
  expected = tonumber(args[3])
  index = id + 1
  server_errors = 0
  unexpected = 0
  wrapped = 0
end
function request()
  local i = index
  index = index + step
  if index > #bodies then index = id + 1; wrapped = wrapped + 1 end
  return wrk.format("POST", wrk.path, {["Content-Type"] = "application/json",
                    ["X-Signature"] = sigs[i]}, bodies[i])
end
function response(status, headers, body)
  if status >= 500 then server_errors = server_errors + 1 end
  if status ~= expected then unexpected = unexpected + 1 end
end
function done(summary, latency, requests)
  local errors, others, wraps = 0, 0, 0
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("server_errors")
    others = others + thread:get("unexpected")
    wraps = wraps + thread:get("wrapped")
  end
  io.write(string.format("SERVER_ERRORS %d\nUNEXPECTED %d\nWRAPPED %d\n", errors, others, wraps))
end
"""


def sign(body: bytes, secret: str = SECRET) -> str:
    """Variant A, as BVNK signs: Base64 HMAC-SHA256 over the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def event_body(customer_reference: str) -> bytes:
    envelope = {
        "event": "bvnk:platform:customer:status-change",
        "eventId": str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z"),
        "data": {"status": "PENDING", "reference": customer_reference},
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def write_bodies(path: Path, count: int, *, bad_signature: bool = False) -> list[bytes]:
    bodies = [event_body(str(uuid.uuid4())) for _ in range(count)]
    with path.open("w") as out:
        for body in bodies:
            signature = sign(body, "not-the-secret" if bad_signature else SECRET)
            out.write(f"{signature}\t{body.decode()}\n")
    return bodies


@contextmanager
def gunicorn(env: dict[str, str], port: int, workers: int) -> Any:
    """The image's server: sync workers, the access log written (here, thrown away)."""
    command = [
        sys.executable, "-m", "gunicorn", "bench._wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync",
        "--access-logfile", os.devnull, "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urlopen(f"http://127.0.0.1:{port}{TRIVIAL_PATH}", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not start")
        yield server
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def wrk(url: str, *, duration: int, connections: int, threads: int, script: Path | None = None,
        script_args: tuple[str, ...] = ()) -> dict[str, float]:  # fmt: skip
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s"]
    if script:
        command += ["-s", str(script), url, "--", *script_args]
    else:
        command.append(url)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def number(pattern: str) -> float:
        match = re.search(pattern, output)
        return float(match.group(1)) if match else 0.0

    return {
        "rps": number(r"Requests/sec:\s+([\d.]+)"),
        "requests": number(r"(\d+) requests in"),
        "non_2xx": number(r"Non-2xx or 3xx responses: (\d+)"),
        "socket_errors": sum(
            int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output)
        ),
        "server_errors": number(r"SERVER_ERRORS (\d+)"),
        "unexpected": number(r"UNEXPECTED (\d+)"),
        "wrapped": number(r"WRAPPED (\d+)"),
    }


async def latency_rounds(
    port: int, webhooks: list[bytes], trivial: bytes, rate: float, seconds: float, senders: int
) -> tuple[list[float], list[float]]:
    """Measure the webhook and the trivial view in turns, LATENCY_ROUNDS times each, at
    `rate` requests/s for `seconds` a turn; return each side's latencies (s).

    Short turns make both sides meet the same disturbances (other work on the machine, a
    checkpoint); in long ones a burst of it lands on one side only.
    """
    per_turn = int(rate * seconds)
    hook: list[float] = []
    plain: list[float] = []
    for turn in range(LATENCY_ROUNDS):
        hook += await constant_rate(port, webhooks[turn * per_turn :], rate, seconds, senders)
        plain += await constant_rate(port, [trivial], rate, seconds, senders)
    return hook, plain


async def constant_rate(
    port: int, requests: list[bytes], rate: float, duration: float, senders: int
) -> list[float]:
    """Send requests at a fixed total rate from `senders` concurrent senders, as wrk2
    does; return latencies (s) measured from each request's scheduled send time.

    Sender c sends requests c, c + senders, ...; one still waiting for its previous
    answer sends late, and the wait counts (no coordinated omission). Each request opens
    its connection when it is due and the server closes it after answering, as the
    image's sync workers do: a connection opened ahead of time would hold a sync worker
    idle until its request came.
    """
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    failures = 0
    total = int(rate * duration)
    start = loop.time() + 0.05

    async def run(c: int) -> None:
        nonlocal failures
        for i in range(c, total, senders):
            scheduled = start + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(requests[i % len(requests)])
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            at = head.find(b"\r\ncontent-length:")
            length = int(head[at + 17 : head.index(b"\r", at + 2)]) if at >= 0 else 0
            await reader.readexactly(length)
            latencies.append(loop.time() - scheduled)
            writer.close()
            if not head.startswith((b"http/1.1 2", b"http/1.0 2")):
                failures += 1

    await asyncio.gather(*(run(c) for c in range(senders)))
    if failures:
        raise RuntimeError(f"{failures} non-2xx answers in the latency run")
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def raw_get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()


def raw_post(body: bytes) -> bytes:
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-Signature: {sign(body)}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--workers", type=int, default=8, help="gunicorn sync workers (the image's 8)"
    )
    add_database_argument(parser)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also deliver N events in this process under cProfile, to the portal's webhook "
        "and to the reference, and print where the time goes",
    )
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database(args.database_url, "bench_webhooks") as database_url,
    ):
        work = Path(tmp)
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14"),
            "BVNK_WEBHOOK_SECRET": SECRET,
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "ERROR",
            "PRIVATE_MEDIA_ROOT": str(work / "private"),
            "PYTHONPATH": str(ROOT),
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env,
            check=True,
        )  # fmt: skip
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE bench_reference_event (event_id text PRIMARY KEY, body text)"
            )
        script = work / "webhook.lua"
        script.write_text(WRK_SCRIPT)
        files = {n: work / f"{n}.tsv" for n in ("unique", "reference", "duplicate", "bad")}
        wrk_threads = 2
        unique_bodies = write_bodies(files["unique"], 150_000)
        write_bodies(files["reference"], 150_000)
        write_bodies(files["bad"], 2_000, bad_signature=True)
        base = f"http://127.0.0.1:{port}"
        run = dict(duration=args.duration, connections=args.connections, threads=wrk_threads)

        cpu: dict[str, dict[str, float]] = {}

        def deliveries(path: str, name: str, expected: int) -> dict[str, float]:
            meter.start()
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            answered = wrk(base + path, script=script,
                           script_args=(str(files[name]), str(wrk_threads), str(expected)),
                           **run)  # fmt: skip
            used = meter.stop()
            # wrk has ended by now: its CPU is what this process's children used meanwhile.
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used["wrk"] = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
            used["rest of the machine"] = max(used["rest of the machine"] - used["wrk"], 0.0)
            # CPU milliseconds per request answered, by process group.
            per = max(answered["requests"], 1)
            cpu[name] = {group: t * 1000 / per for group, t in used.items()}
            cpu[name]["machine busy share"] = meter.busy_share
            return answered

        with gunicorn(env, port, args.workers) as server:
            meter = CpuMeter(
                {
                    "gunicorn": lambda: process_group(server.pid),
                    # The whole server (its writers too): the machine is otherwise idle.
                    "PostgreSQL": lambda: processes_named("postgres"),
                }
            )
            wrk(base + TRIVIAL_PATH, **{**run, "duration": 3})  # warm up every worker
            trivial = wrk(base + TRIVIAL_PATH, **run)
            portal_trivial = wrk(base + PORTAL_TRIVIAL_PATH, **run)
            default_trivial = wrk(base + DEFAULT_TRIVIAL_PATH, **run)
            unique = deliveries(WEBHOOK_PATH, "unique", 200)
            reference = deliveries(REFERENCE_PATH, "reference", 200)
            # Re-deliver events that are stored now: the duplicate path.
            stored = min(int(unique["requests"]), len(unique_bodies), 5_000)
            files["duplicate"].write_text("".join(
                line + "\n" for line in files["unique"].read_text().splitlines()[:stored]
            ))  # fmt: skip
            duplicate = deliveries(WEBHOOK_PATH, "duplicate", 200)
            refused = deliveries(WEBHOOK_PATH, "bad", 401)

            # Half the unique-ingest rate, wrk2-style, over as many connections as wrk
            # used; the webhook and the trivial view take turns (see latency_rounds).
            rate = unique["rps"] / 2
            per_turn = args.duration / LATENCY_ROUNDS
            sent = LATENCY_ROUNDS * int(rate * per_turn)
            fresh = [raw_post(event_body(str(uuid.uuid4()))) for _ in range(sent + 1)]
            hook_latency, trivial_latency = asyncio.run(
                latency_rounds(port, fresh, raw_get(TRIVIAL_PATH), rate, per_turn, args.connections)
            )

        with psycopg.connect(database_url) as conn:
            events = conn.execute("SELECT count(*) FROM customers_webhookevent").fetchone()[0]
        profile = profile_in_process(args.profile, env) if args.profile else {}

    expected_events = (
        min(unique["requests"], len(unique_bodies)) + sent if not unique["wrapped"] else None
    )
    runs = {
        "trivial": trivial, "portal_trivial": portal_trivial, "default_trivial": default_trivial,
        "unique": unique, "reference": reference, "duplicate": duplicate, "refused": refused,
    }  # fmt: skip
    # Every path's wrong answers: non-2xx where 200 is due, anything but 401 where refused.
    wrong = {
        name: (r["non_2xx"] if name != "refused" else r["unexpected"]) + r["socket_errors"]
        for name, r in runs.items()
    }
    figures = {
        **{f"{name}_rps": r["rps"] for name, r in runs.items()},
        "ingest_vs_reference": unique["rps"] / reference["rps"],
        "ingest_vs_trivial": unique["rps"] / trivial["rps"],
        "duplicate_vs_unique": duplicate["rps"] / unique["rps"],
        "refused_vs_trivial": refused["rps"] / trivial["rps"],
        "middleware_ratio": default_trivial["rps"] / portal_trivial["rps"],
        "wrong_answers": wrong,
        "latency_rate": rate,
        "webhook_p99_ms": percentile(hook_latency, 0.99) * 1000,
        "webhook_p999_ms": percentile(hook_latency, 0.999) * 1000,
        "trivial_p99_ms": percentile(trivial_latency, 0.99) * 1000,
        "trivial_p999_ms": percentile(trivial_latency, 0.999) * 1000,
        "webhook_median_ms": statistics.median(hook_latency) * 1000,
        "trivial_median_ms": statistics.median(trivial_latency) * 1000,
        "events_stored": events,
        "events_expected": expected_events,
    }
    figures["p99_vs_trivial"] = figures["webhook_p99_ms"] / max(figures["trivial_p99_ms"], 0.001)
    print(f"\nWebhook ingest (gunicorn {args.workers} sync workers, PostgreSQL)")
    print("  req/s: " + ", ".join(f"{name} {r['rps']:.0f}" for name, r in runs.items()))
    print(f"  latency run at {rate:.0f} req/s: webhook p99 {figures['webhook_p99_ms']:.1f} ms, "
          f"trivial p99 {figures['trivial_p99_ms']:.1f} ms")  # fmt: skip
    print("  wrong answers: " + ", ".join(f"{name} {n:.0f}" for name, n in wrong.items()))
    print("  CPU ms per request (from /proc) and the machine's busy share, per wrk run:")
    for name, used in cpu.items():
        groups = ", ".join(f"{g} {ms:.2f}" for g, ms in used.items() if g != "machine busy share")
        print(f"    {name:<10} {groups}; busy {used['machine busy share']:.0%} of all cores")
    figures["cpu_ms_per_request"] = cpu
    missed = print_goals([
        ("signed ingest / minimal reference", figures["ingest_vs_reference"], ">=", 0.9),
        ("signed ingest / trivial", figures["ingest_vs_trivial"], ">=", 0.35),
        ("duplicate / unique", figures["duplicate_vs_unique"], ">=", 1.0),
        ("bad signature / trivial", figures["refused_vs_trivial"], ">=", 0.8),
        ("portal middleware / Django default (time)", figures["middleware_ratio"], "<=",
         MIDDLEWARE_GOAL),
        ("wrong answers on every path", float(sum(wrong.values())), "==", 0),
        ("webhook p99 / trivial p99 at half load", figures["p99_vs_trivial"], "<=", 3.0),
        ("webhook p99.9 (ms) at half load", figures["webhook_p999_ms"], "<", 1000),
    ])  # fmt: skip
    # Every delivery answered 200 is stored. More may be: wrk stops counting while some
    # requests are still being answered (each sync-worker answer also closes its
    # connection, and wrk does not count what arrives after the end of its run).
    print(f"  events stored {events}, unique deliveries answered 200: {expected_events}")
    if expected_events is not None and events < expected_events:
        print("  MISSED: fewer events stored than deliveries acknowledged")
        missed = True
    if profile:
        figures["profile"] = profile
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 1 if missed else 0


def profile_in_process(count: int, env: dict[str, str]) -> dict[str, Any]:
    """Deliver `count` unique signed events in this process (Django's test client, the
    same settings and URLs as the server) to the portal's webhook and to the reference;
    print each one's profile per delivery. The database is dropped afterwards."""
    import cProfile

    os.environ.update({**env, "DJANGO_SETTINGS_MODULE": "bench._settings"})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")  # one of the server's ALLOWED_HOSTS
    results = {}
    print(f"\nProfile: {count} deliveries in this process, each way")
    for name, path in (("portal", WEBHOOK_PATH), ("reference", REFERENCE_PATH)):
        bodies = [event_body(str(uuid.uuid4())) for _ in range(count + 20)]
        for body in bodies[:20]:  # warm up
            client.post(path, body, content_type="application/json", HTTP_X_SIGNATURE=sign(body))
        profiler = cProfile.Profile()
        profiler.enable()
        for body in bodies[20:]:
            answer = client.post(
                path, body, content_type="application/json", HTTP_X_SIGNATURE=sign(body)
            )
            if answer.status_code != 200:
                raise SystemExit(f"{path} answered {answer.status_code}")
        profiler.disable()
        results[name] = print_profile(profiler, per=count, label=f"{name}, per delivery")
    return results


if __name__ == "__main__":
    sys.exit(main())
