"""Append latency of the audit store, SQLite and PostgreSQL (not a test: run by hand).

    .venv/bin/python -m tests.audit.bench_append [--seconds 10] [--rate 200] [--appenders 200]

closed loop: N appenders, each appending again as soon as its last append is durable
             (the most concurrent load; also gives throughput).
open loop:   appends arriving at RATE per second (the webhook's target: p99 <= 10 ms at 200/s).
PostgreSQL runs as a throwaway local server (fsync on), as in the tests. Both put their
files under $TMPDIR: TMPDIR=/dev/shm takes the disk's fsync out and shows the store's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time

import psycopg

from gatekeeper.audit import open_store

from .audit_data import record
from .audit_pg_server import PostgresServer


def percentiles(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=100)
    return f"n={len(ms):5d}  p50={q[49]:6.2f} ms  p99={q[98]:6.2f} ms  max={max(ms):6.2f} ms"


async def closed_loop(url: str, appenders: int, seconds: float) -> str:
    async with await open_store(url) as store:
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def appender(k: int) -> None:
            i = 0
            while time.perf_counter() < deadline:
                r = record(k * 1_000_000 + i, violations=1)
                start = time.perf_counter()
                await store.append(r)
                latencies.append((time.perf_counter() - start) * 1000)
                i += 1

        began = time.perf_counter()
        await asyncio.gather(*(appender(k) for k in range(appenders)))
        rate = len(latencies) / (time.perf_counter() - began)
        assert (await store.verify()).ok
        return f"{percentiles(latencies)}  throughput={rate:6.0f}/s"


async def open_loop(url: str, rate: float, seconds: float) -> str:
    async with await open_store(url) as store:
        latencies: list[float] = []

        async def one(i: int) -> None:
            r = record(i, violations=1)
            start = time.perf_counter()
            await store.append(r)
            latencies.append((time.perf_counter() - start) * 1000)

        tasks = []
        began = time.perf_counter()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        assert (await store.verify()).ok
        return percentiles(latencies)


def raw_sqlite_commits(path: str, rate: float, seconds: float) -> str:
    """Baseline: the disk's own cost, one plain sqlite3 commit (WAL, synchronous=FULL) at a time."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = FULL")
    con.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT)")
    body = record(0, violations=1).canonical_json()
    latencies = []
    for _ in range(int(rate * seconds)):
        start = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO t (body) VALUES (?)", (body,))
        con.execute("COMMIT")
        latencies.append((time.perf_counter() - start) * 1000)
        time.sleep(max(0.0, 1 / rate - latencies[-1] / 1000))
    con.close()
    return percentiles(latencies)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--appenders", type=int, default=200)
    args = parser.parse_args()
    server = PostgresServer().start()
    try:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA closed; CREATE SCHEMA open")
        with tempfile.TemporaryDirectory() as tmp:
            print(f"baseline: raw sqlite3 commit, {args.rate:.0f}/s:   "
                  f"{raw_sqlite_commits(f'{tmp}/raw.db', args.rate, args.seconds)}")
            stores = {"sqlite": f"sqlite:///{tmp}/{{}}.db", "postgres": f"{server.url}?options=-c%20search_path%3D{{}}"}
            for name, url in stores.items():
                print(f"{name:8s} open loop, {args.rate:.0f}/s:            "
                      f"{await open_loop(url.format('open'), args.rate, args.seconds)}")
                print(f"{name:8s} closed loop, {args.appenders} appenders: "
                      f"{await closed_loop(url.format('closed'), args.appenders, args.seconds)}")
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
