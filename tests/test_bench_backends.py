"""The backend-neutral bench figures and the throwaway PostgreSQL databases they use.

The numbers are not asserted (shared, noisy machines): only that each figure is
measured on a database of its own, from real worker processes, and that the
user's data and folders are never touched."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from queuectl_tui import bench_backends
from queuectl_tui.errors import StoreError
from queuectl_tui.store.scratch import masked, scratch_database

PG_URL = os.environ.get("QUEUECTL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _server_answers() -> str | None:
    """None if the test server answers, else why not (shown in the skip reason)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"no PostgreSQL at {masked(PG_URL)}: {str(exc).strip().splitlines()[0]}"


@pytest.fixture(scope="module")
def pg_server() -> str:
    reason = _server_answers()
    if reason:
        pytest.skip(reason)
    return PG_URL


def _databases(server: str) -> set[str]:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def test_a_scratch_database_is_new_empty_and_dropped_even_while_connected(pg_server):
    import psycopg

    before = _databases(pg_server)
    conn = None
    try:
        with scratch_database(pg_server, "bench") as url:
            name = url.rsplit("/", 1)[1]
            assert name.startswith("qctl_bench_") and name not in before
            conn = psycopg.connect(url)  # as a worker left behind would hold it
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                                ).fetchone()[0] == 0
        assert name not in _databases(pg_server)
    finally:
        if conn is not None:
            conn.close()


def test_a_failed_measurement_drops_its_database_too(pg_server):
    with pytest.raises(RuntimeError), scratch_database(pg_server, "bench") as url:
        raise RuntimeError("the measurement failed")
    assert url.rsplit("/", 1)[1] not in _databases(pg_server)


def test_an_unreachable_server_is_one_line_without_the_password():
    secret = secrets.token_hex(8)
    with pytest.raises(StoreError) as caught, \
            scratch_database(f"postgresql://someone:{secret}@127.0.0.1:1/postgres"):
        pass
    message = str(caught.value)
    assert "\n" not in message and secret not in message
    assert message.startswith("postgresql://someone:***@127.0.0.1:1/postgres: ")


def test_throughput_and_pickup_latency_through_the_domain_on_sqlite(tmp_path: Path):
    """Real workers on a fresh file: every job ran, and the figures are positive."""
    rate = bench_backends.queue_throughput(str(tmp_path / "tp.db"), jobs=20, workers=2)
    latencies = bench_backends.pickup_latency(str(tmp_path / "lat.db"), samples=3)
    assert rate > 0
    assert len(latencies) == 3 and all(value >= 0 for value in latencies)
    p50, p99 = bench_backends.p50_p99_ms(latencies)
    assert 0 <= p50 <= p99


def test_throughput_and_pickup_latency_on_a_scratch_postgresql_database(
        pg_server, tmp_path: Path, monkeypatch):
    """Measured there (a URL is never taken for a path: nothing appears in the cwd)."""
    monkeypatch.chdir(tmp_path)
    with scratch_database(pg_server, "bench") as url:
        assert bench_backends.queue_throughput(url, jobs=10, workers=2) > 0
    with scratch_database(pg_server, "bench") as url:
        assert len(bench_backends.pickup_latency(url, samples=2)) == 2
    assert list(tmp_path.iterdir()) == []
