"""Pickup latency of an idle PostgreSQL worker woken by NOTIFY from another process.

Usage: python scripts/pg_latency.py [URL] [TRIES]
URL defaults to $QUEUECTL_TEST_PG, else postgresql://postgres@127.0.0.1:5432/test;
a scratch database is created on that server for the run and dropped after it.
Prints p50/p99/max in milliseconds (goal: p50 <= 10 ms).
"""

from __future__ import annotations

import os
import secrets
import sys
import urllib.parse

import psycopg

from queuectl_tui.store.postgres import measure_wakeup_latency


def main() -> int:
    base = (sys.argv[1] if len(sys.argv) > 1 else
            os.environ.get("QUEUECTL_TEST_PG") or "postgresql://postgres@127.0.0.1:5432/test")
    tries = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    name = f"qctl_latency_{secrets.token_hex(4)}"
    url = urllib.parse.urlunsplit(urllib.parse.urlsplit(base)._replace(path="/" + name))
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        figures = measure_wakeup_latency(url, tries)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"PostgreSQL pickup latency (idle waiter, NOTIFY from another process),"
          f" {figures['woken']}/{figures['tries']} woken:"
          f" p50 {figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms,"
          f" max {figures['max_ms']:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
