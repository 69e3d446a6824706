"""PostgreSQL figures for the README: wake-up latency and the change triggers' cost.

Usage: python scripts/pg_latency.py [URL] [TRIES]
URL defaults to $QUEUECTL_TEST_PG, else postgresql://postgres@127.0.0.1:5432/test;
a scratch database is created on that server for the run and dropped after it.

Prints:
- the pickup latency of an idle waiter woken by NOTIFY from another process,
  p50/p99/max in ms over TRIES (default 200) wake-ups (goal: p50 <= 10 ms);
- the server-side time of a claim + complete with and without the triggers that
  feed ``data_version`` (median of 8 rounds of 2,000 jobs, run inside one DO
  block so that client and network noise stay out of it).
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import urllib.parse

import psycopg

from queuectl_tui.store.postgres import CLAIM_SQL, PostgresStorage, measure_wakeup_latency

_LOOP = """
DO $$
DECLARE t0 timestamptz; r record; n int := 0;
BEGIN
  t0 := clock_timestamp();
  LOOP
    {claim} INTO r;
    EXIT WHEN r.id IS NULL;
    UPDATE job SET state = 'completed', finished_at = 1, updated_at = 1, exit_code = 0,
      output = '', lease_expires_at = NULL
      WHERE id = r.id AND worker_id = 'w' AND attempts = r.attempts AND state = 'processing';
    n := n + 1;
  END LOOP;
  RAISE NOTICE '%', extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
END $$"""


def trigger_cost(url: str, rounds: int = 8, jobs: int = 2000) -> dict[str, float]:
    """Median server-side microseconds per claim + complete, triggers on and off."""
    storage = PostgresStorage.open(url)
    conn = storage.db.connection()
    notes: list[float] = []
    conn.add_notice_handler(lambda diag: notes.append(float(diag.message_primary)))
    claim = CLAIM_SQL.replace("%s::float8", "30::float8").replace("%s", "'w'")
    results: dict[str, list[float]] = {"on": [], "off": []}
    try:
        for _ in range(rounds):
            for variant in results:
                conn.execute(f"ALTER TABLE job {'ENABLE' if variant == 'on' else 'DISABLE'}"
                             " TRIGGER USER")
                conn.execute("TRUNCATE job, attempt")
                stamp = storage.now()
                storage.insert_jobs([(f"j{i}", "true", "default", 0, 3, None, None,
                                      stamp + i * 1e-6, stamp) for i in range(jobs)])
                conn.execute("VACUUM ANALYZE job")
                conn.execute(_LOOP.replace("{claim}", claim))
                results[variant].append(notes.pop())
        conn.execute("ALTER TABLE job ENABLE TRIGGER USER")
    finally:
        storage.close()
    return {variant: statistics.median(values) for variant, values in results.items()}


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
        cost = trigger_cost(url)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"PostgreSQL pickup latency (idle waiter, NOTIFY from another process),"
          f" {figures['woken']}/{figures['tries']} woken:"
          f" p50 {figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms,"
          f" max {figures['max_ms']:.2f} ms")
    print(f"claim + complete, server side: {cost['on']:.0f} us with the data_version"
          f" triggers, {cost['off']:.0f} us without")
    return 0


if __name__ == "__main__":
    sys.exit(main())
