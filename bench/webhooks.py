"""Benchmark the BVNK webhook endpoint against a trivial view on the same server.

Starts gunicorn on a fresh PostgreSQL database, then in one run measures with wrk:
  - requests/s of GET /healthz (the trivial view: same server, same middleware);
  - signed deliveries of unique events (each one stored);
  - re-deliveries of events already stored (the duplicate path);
  - deliveries with a bad signature (refused with 401);
and, at a constant rate of half the unique-ingest rate (wrk2-style, over as many
connections as wrk used, the two sides taking turns of a second), the p99 and p99.9 latency of the
webhook and of the trivial view, measured from each request's scheduled send time, so
a slow answer cannot hide the requests queued behind it.

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
from _support import add_database_argument, free_port, fresh_database

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-webhook-secret"
WEBHOOK_PATH = "/webhooks/bvnk/"
TRIVIAL_PATH = "/healthz"
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
  index = id + 1
  server_errors = 0
  wrapped = 0
end
function request()
  local i = index
  index = index + step
  if index > #bodies then index = id + 1; wrapped = wrapped + 1 end
  return wrk.format("POST", "__PATH__", {["Content-Type"] = "application/json",
                    ["X-Signature"] = sigs[i]}, bodies[i])
end
function response(status, headers, body)
  if status >= 500 then server_errors = server_errors + 1 end
end
function done(summary, latency, requests)
  local errors, wraps = 0, 0
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("server_errors")
    wraps = wraps + thread:get("wrapped")
  end
  io.write(string.format("SERVER_ERRORS %d\nWRAPPED %d\n", errors, wraps))
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
def gunicorn(env: dict[str, str], port: int, workers: int, threads: int) -> Any:
    command = [
        sys.executable, "-m", "gunicorn", "portal.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--worker-class", "gthread", "--threads", str(threads),
        "--keep-alive", "30", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
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
        yield
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
        "wrapped": number(r"WRAPPED (\d+)"),
    }


Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def latency_rounds(
    port: int, webhooks: list[bytes], trivial: bytes, rate: float, seconds: float, connections: int
) -> tuple[list[float], list[float]]:
    """Measure the webhook and the trivial view in turns, LATENCY_ROUNDS times each, at
    `rate` requests/s for `seconds` a turn; return each side's latencies (s).

    Short turns make both sides meet the same disturbances (other work on the machine, a
    checkpoint); in long ones a burst of it lands on one side only. Both use the same
    keep-alive connections, opened once.
    """
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)]
    per_turn = int(rate * seconds)
    hook: list[float] = []
    plain: list[float] = []
    for turn in range(LATENCY_ROUNDS):
        hook += await constant_rate(port, streams, webhooks[turn * per_turn :], rate, seconds)
        plain += await constant_rate(port, streams, [trivial], rate, seconds)
    for _, writer in streams:
        writer.close()
    return hook, plain


async def constant_rate(
    port: int, streams: list[Stream], requests: list[bytes], rate: float, duration: float
) -> list[float]:
    """Send requests at a fixed total rate over the keep-alive `streams`, as wrk2 does;
    return latencies (s) measured from each request's scheduled send time.

    Connection c sends requests c, c + len(streams), ...; one that is still waiting for
    its previous answer sends late, and the wait counts (no coordinated omission). A
    fixed set of connections used in turn spreads the load over gunicorn's workers as
    wrk's run does. (The generator this replaces reused a pool last-in first-out, so
    most requests went down a few connections, to few workers, and it opened hundreds
    more once answers queued: 434 at 760 webhooks/s.)
    """
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    failures = 0
    total = int(rate * duration)
    start = loop.time() + 0.05

    async def run(c: int) -> None:
        nonlocal failures
        reader, writer = streams[c]
        for i in range(c, total, len(streams)):
            scheduled = start + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(requests[i % len(requests)])
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            at = head.find(b"\r\ncontent-length:")
            length = int(head[at + 17 : head.index(b"\r", at + 2)]) if at >= 0 else 0
            await reader.readexactly(length)
            latencies.append(loop.time() - scheduled)
            if not head.startswith((b"http/1.1 2", b"http/1.0 2")):
                failures += 1
            if b"\r\nconnection: close" in head:
                writer.close()
                reader, writer = streams[c] = await asyncio.open_connection("127.0.0.1", port)

    await asyncio.gather(*(run(c) for c in range(len(streams))))
    if failures:
        raise RuntimeError(f"{failures} non-2xx answers in the latency run")
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def raw_get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def raw_post(body: bytes) -> bytes:
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-Signature: {sign(body)}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=8, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    add_database_argument(parser)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
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
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env,
            check=True,
        )  # fmt: skip
        script = work / "webhook.lua"
        script.write_text(WRK_SCRIPT.replace("__PATH__", WEBHOOK_PATH))
        unique_file, duplicate_file, bad_file = (work / n for n in ("u.tsv", "d.tsv", "b.tsv"))
        wrk_threads = 2
        unique_bodies = write_bodies(unique_file, 150_000)
        write_bodies(bad_file, 2_000, bad_signature=True)
        base = f"http://127.0.0.1:{port}"
        run = dict(duration=args.duration, connections=args.connections, threads=wrk_threads)
        with gunicorn(env, port, args.workers, args.threads):
            wrk(base + TRIVIAL_PATH, **{**run, "duration": 3})  # warm up every worker
            trivial = wrk(base + TRIVIAL_PATH, **run)
            unique = wrk(base + WEBHOOK_PATH, script=script,
                         script_args=(str(unique_file), str(wrk_threads)), **run)  # fmt: skip
            # Re-deliver events that are stored now: the duplicate path.
            stored = min(int(unique["requests"]), len(unique_bodies), 5_000)
            duplicate_file.write_text("".join(
                line + "\n" for line in unique_file.read_text().splitlines()[:stored]
            ))  # fmt: skip
            duplicate = wrk(base + WEBHOOK_PATH, script=script,
                            script_args=(str(duplicate_file), str(wrk_threads)), **run)  # fmt: skip
            refused = wrk(base + WEBHOOK_PATH, script=script,
                          script_args=(str(bad_file), str(wrk_threads)), **run)  # fmt: skip

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

    expected_events = (
        min(unique["requests"], len(unique_bodies)) + sent if not unique["wrapped"] else None
    )
    figures = {
        "trivial_rps": trivial["rps"],
        "unique_rps": unique["rps"],
        "duplicate_rps": duplicate["rps"],
        "refused_rps": refused["rps"],
        "ingest_vs_trivial": unique["rps"] / trivial["rps"],
        "duplicate_vs_unique": duplicate["rps"] / unique["rps"],
        "refused_vs_trivial": refused["rps"] / trivial["rps"],
        "non_2xx": trivial["non_2xx"] + unique["non_2xx"] + duplicate["non_2xx"],
        "refused_5xx": refused["server_errors"],
        "socket_errors": sum(r["socket_errors"] for r in (trivial, unique, duplicate, refused)),
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
    goals = [
        ("signed ingest / trivial", figures["ingest_vs_trivial"], ">=", 0.35),
        ("duplicate / unique", figures["duplicate_vs_unique"], ">=", 1.0),
        ("bad signature / trivial", figures["refused_vs_trivial"], ">=", 0.8),
        ("non-2xx on success paths", figures["non_2xx"], "==", 0),
        ("webhook p99 / trivial p99 at half load", figures["p99_vs_trivial"], "<=", 3.0),
        ("webhook p99.9 (ms) at half load", figures["webhook_p999_ms"], "<", 1000),
    ]
    print(f"\nWebhook ingest (gunicorn {args.workers}x{args.threads} gthread, PostgreSQL)")
    print(f"  trivial {trivial['rps']:.0f} req/s, unique {unique['rps']:.0f}, "
          f"duplicate {duplicate['rps']:.0f}, bad signature {refused['rps']:.0f}; "
          f"latency run at {rate:.0f} req/s")  # fmt: skip
    failed = 0
    for name, value, op, goal in goals:
        ok = {">=": value >= goal, "<=": value <= goal, "<": value < goal, "==": value == goal}[op]
        failed += not ok
        print(f"  {name:<42} {value:>9.2f}   goal {op} {goal:<6} {'ok' if ok else 'MISSED'}")
    # Up to one request per connection is still in flight when wrk stops counting.
    if expected_events is not None and not (
        expected_events <= events <= expected_events + args.connections
    ):
        print(f"  stored events {events}, but {expected_events} unique deliveries were answered")
        failed += 1
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
