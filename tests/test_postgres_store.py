"""PostgresStorage at the storage level: what a worker and the faces rely on.

Claim order and fencing, recovery, the server's clock, wake-ups across
processes, reconnection, the claim's plan at a million finished rows, the
schema's versions, password masking, and the import guard."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse

import pytest

from queuectl_tui.errors import StoreError
from queuectl_tui.store.base import Outcome, WorkerRow
from tests import pg
from tests.pg import drop_database, fresh_database

psycopg = pytest.importorskip("psycopg")
pg_database = pg.pg_database  # the module's fresh database (fixture)

from queuectl_tui.store import postgres  # noqa: E402
from queuectl_tui.store.migrations import postgres as migrations  # noqa: E402
from queuectl_tui.store.postgres import PostgresStorage  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def storage(pg_database):
    """An open storage on the module's database, emptied before each test."""
    s = PostgresStorage.open(pg_database)
    s.db.execute_sql("TRUNCATE job, attempt, worker, dependency, queue_control, schedule")
    yield s
    s.close()


def _enqueue(s, *jobs, run_at=None):
    """jobs: (id, priority) pairs, inserted in order."""
    stamp = s.now()
    s.insert_jobs([(job_id, f"echo {job_id}", "default", priority, 3, None, run_at,
                    stamp + i * 1e-6, stamp) for i, (job_id, priority) in enumerate(jobs)])


def _row(s, job_id):
    cursor = s.db.execute_sql(
        "SELECT state, attempts, worker_id, run_at, lease_expires_at, output, last_error,"
        " started_at, finished_at FROM job WHERE id = %s", (job_id,))
    return dict(zip([c.name for c in cursor.description], cursor.fetchone(), strict=True))


def _attempts(s, job_id):
    return s.db.execute_sql("SELECT number, worker_id, exit_code, error, retry_at FROM attempt"
                            " WHERE job_id = %s ORDER BY id", (job_id,)).fetchall()


# --- claim, finish, fence ---------------------------------------------------------

def test_claim_takes_highest_priority_then_oldest(storage):
    _enqueue(storage, ("low", 0), ("high", 5), ("low2", 0))
    order = [storage.claim("w1", 30).id for _ in range(3)]
    assert order == ["high", "low", "low2"]
    assert storage.claim("w1", 30) is None


def test_finish_records_fails_with_attempt_and_claims_next_in_one_go(storage):
    _enqueue(storage, ("a", 1), ("b", 0))
    job = storage.claim("w1", 30)
    failed = Outcome("failed", 2, "exit 2", bytearray("out ✓".encode()), 5.0)
    recorded, stamp, following = storage.finish(job, "w1", failed, claim_lease=30)
    assert recorded and following is not None and following.id == "b"
    row = _row(storage, "a")
    assert row["state"] == "failed" and row["output"] == "out ✓"
    assert row["run_at"] == pytest.approx(stamp + 5.0)
    assert row["lease_expires_at"] is None
    assert _attempts(storage, "a") == [(1, "w1", 2, "exit 2", row["run_at"])]
    done = Outcome("completed", 0, None, "fine", None)
    assert storage.finish(following, "w1", done, claim_lease=None)[0]
    assert _row(storage, "b")["state"] == "completed"
    assert _attempts(storage, "b") == []  # successes live on the job row


def test_dead_outcome_has_no_retry_time(storage):
    _enqueue(storage, ("d", 0))
    job = storage.claim("w1", 30)
    storage.finish(job, "w1", Outcome("dead", 1, "boom", "", None), None)
    assert _row(storage, "d")["state"] == "dead"
    assert _attempts(storage, "d") == [(1, "w1", 1, "boom", None)]


def test_output_with_nul_bytes_is_stored(storage):
    _enqueue(storage, ("n", 0), ("m", 0))
    for job_id, output in (("n", bytearray(b"a\x00b")), ("m", "c\x00d")):
        job = storage.claim("w1", 30)
        assert job.id == job_id
        storage.finish(job, "w1", Outcome("completed", 0, None, output, None), None)
    _enqueue(storage, ("e", 0))
    job = storage.claim("w1", 30)
    storage.finish(job, "w1", Outcome("failed", 1, "bad\x00news", "", 1.0), None)
    assert _row(storage, "e")["last_error"] == "bad\ufffdnews"
    assert _row(storage, "n")["output"] == "a\ufffdb"
    assert _row(storage, "m")["output"] == "c\ufffdd"


def test_writes_are_fenced_on_worker_attempt_and_state(storage):
    _enqueue(storage, ("f", 0))
    job = storage.claim("w1", 30)
    done = Outcome("completed", 0, None, "x", None)
    assert not storage.renew(job, "w2", 30)
    assert not storage.release(job, "w2")
    assert storage.finish(job, "w2", done, None)[0] is False
    assert storage.finish(job._replace(attempts=9), "w1", done, None)[0] is False
    assert _row(storage, "f")["state"] == "processing"
    assert storage.renew(job, "w1", 60)
    assert storage.release(job, "w1")
    row = _row(storage, "f")
    assert (row["state"], row["attempts"], row["worker_id"]) == ("pending", 0, None)
    assert storage.finish(job, "w1", done, None)[0] is False  # released: no longer ours


class _Counting:
    """A connection that counts the statements sent through it."""

    def __init__(self, conn, sent):
        self.conn = conn
        self.sent = sent

    def execute(self, *args):
        self.sent.append(args[0])
        return self.conn.execute(*args)


def test_finish_and_claim_next_is_one_statement_and_one_transaction(storage, monkeypatch):
    _enqueue(storage, ("a", 1), ("b", 0))
    job = storage.claim("w1", 30)
    sent: list = []
    real = storage._conn
    monkeypatch.setattr(storage, "_conn", lambda: _Counting(real(), sent))
    failed = Outcome("failed", 1, "refused", "", 1.0)
    # The attempt row (between the record and the claim) fails: nothing of the
    # three happened, not the record, not the claim of b.
    storage.db.execute_sql("ALTER TABLE attempt ADD CONSTRAINT refuse CHECK (error <> 'refused')")
    try:
        with pytest.raises(storage.errors):
            storage.finish(job, "w1", failed, claim_lease=30)
    finally:
        storage.db.execute_sql("ALTER TABLE attempt DROP CONSTRAINT refuse")
    assert len(sent) == 1  # one round trip
    assert _row(storage, "a")["state"] == "processing" and _attempts(storage, "a") == []
    assert _row(storage, "b")["state"] == "pending"
    recorded, _, following = storage.finish(job, "w1", failed._replace(error="exit 1"), 30)
    assert recorded and following.id == "b" and len(sent) == 2
    assert _row(storage, "b")["state"] == "processing"


def test_a_job_retried_at_once_is_not_claimed_by_its_own_finish(storage):
    _enqueue(storage, ("again", 0))
    job = storage.claim("w1", 30)
    recorded, stamp, following = storage.finish(
        job, "w1", Outcome("failed", 1, "exit 1", "", 0.0), claim_lease=30)
    assert recorded and following is None
    assert _row(storage, "again")["run_at"] == pytest.approx(stamp)
    job = storage.claim("w1", 30)  # runnable now, by the next claim
    assert (job.id, job.attempts) == ("again", 2)


def _synchronous_commit(s):
    return s._conn().execute("SHOW synchronous_commit").fetchone()[0]


def test_only_a_worker_connection_commits_without_waiting_for_the_flush(pg_database, storage):
    worker = PostgresStorage.open(pg_database)
    try:
        worker.for_worker()
        assert _synchronous_commit(worker) == "off"
        assert _synchronous_commit(storage) == "on"  # enqueue and admin: durable
        # Still so after a reconnect (the old connection was killed).
        pid = worker._conn().execute("SELECT pg_backend_pid()").fetchone()[0]
        storage.db.execute_sql("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(worker.errors) as failure:
            worker.claim("w1", 30)
        worker.after_error(failure.value)
        assert worker.claim("w1", 30) is None
        assert _synchronous_commit(worker) == "off"
        assert worker._conn().execute("SELECT pg_backend_pid()").fetchone()[0] != pid
    finally:
        worker.close()


class _AnswerLost:
    """A connection whose statements run (and commit) but whose answers are lost."""

    def __init__(self, conn):
        self.conn = conn

    def execute(self, *args):
        self.conn.execute(*args)
        raise psycopg.OperationalError("server closed the connection unexpectedly")


def test_a_claim_whose_answer_was_lost_goes_back_uncharged(storage, monkeypatch):
    _enqueue(storage, ("lost", 1), ("next", 0))
    real = storage._conn
    monkeypatch.setattr(storage, "_conn", lambda: _AnswerLost(real()))
    with pytest.raises(storage.errors):
        storage.claim("w1", 30)
    monkeypatch.undo()
    assert _row(storage, "lost")["state"] == "processing"  # committed, nobody runs it
    job = storage.claim("w1", 30)
    assert (job.id, job.attempts) == ("lost", 1)  # given back and claimed again, uncharged
    assert storage.claim("w2", 30).id == "next"


def test_a_finish_whose_answer_was_lost_gives_its_claim_back_on_the_retry(storage, monkeypatch):
    _enqueue(storage, ("a", 2), ("b", 1), ("c", 0))
    job = storage.claim("w1", 30)
    real = storage._conn
    monkeypatch.setattr(storage, "_conn", lambda: _AnswerLost(real()))
    done = Outcome("completed", 0, None, "", None)
    with pytest.raises(storage.errors):
        storage.finish(job, "w1", done, claim_lease=30)
    monkeypatch.undo()
    assert _row(storage, "b")["state"] == "processing"  # claimed, nobody runs it
    # The worker records again: its earlier record stands (recognised, reported as
    # recorded), and in the same statement b goes back uncharged; the claim takes
    # the next one.
    recorded, _, following = storage.finish(job, "w1", done, claim_lease=30)
    assert recorded and _row(storage, "a")["state"] == "completed"
    assert following.id == "c"
    assert (_row(storage, "b")["state"], _row(storage, "b")["attempts"]) == ("pending", 0)


def test_racing_claimers_never_share_a_job(pg_database, storage):
    _enqueue(storage, *((f"r{i}", 0) for i in range(300)))
    taken: dict[str, list[str]] = {}

    def claimer(name):
        s = PostgresStorage.open(pg_database)
        mine = taken.setdefault(name, [])
        job = s.claim(name, 30)
        while job is not None:
            mine.append(job.id)
            _, _, job = s.finish(job, name, Outcome("completed", 0, None, "", None), 30)
        s.close()

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    everything = [job_id for ids in taken.values() for job_id in ids]
    assert sorted(everything) == sorted(f"r{i}" for i in range(300))


# --- recovery ---------------------------------------------------------------------

def test_expired_lease_is_marked_then_taken_back_as_a_failed_attempt(storage):
    _enqueue(storage, ("e", 0))
    job = storage.claim("w1", -1)  # a lease that has already run out
    assert storage.any_expired()
    (row,) = storage.expired()
    assert (row.id, row.worker_id, row.attempts) == ("e", "w1", 1)
    storage.mark_suspect(row, 0)
    (suspect,) = storage.expired()
    assert suspect.lease_expires_at < 0
    assert not storage.take_back(row, "failed", 1.0, "stale view")  # fenced on the lease seen
    assert storage.take_back(suspect, "failed", 1.0, "worker w1 stopped responding")
    assert _row(storage, "e")["state"] == "failed"
    assert [a[:4] for a in _attempts(storage, "e")] == [
        (1, "w1", None, "worker w1 stopped responding")]
    assert not storage.finish(job, "w1", Outcome("completed", 0, None, "", None), None)[0]


def test_a_renewal_clears_the_suspect_mark_and_wins(storage):
    _enqueue(storage, ("s", 0))
    job = storage.claim("w1", -1)
    (row,) = storage.expired()
    storage.mark_suspect(row, 0)
    (suspect,) = storage.expired()
    assert storage.renew(job, "w1", 30)
    assert not storage.any_expired()
    assert not storage.take_back(suspect, "failed", 1.0, "lost")
    assert _row(storage, "s")["state"] == "processing"


def test_expired_everything_lists_every_running_job(storage):
    _enqueue(storage, ("x", 0), ("y", 0))
    storage.claim("w1", 300)
    assert storage.expired() == []
    assert [r.id for r in storage.expired(everything=True)] == ["x"]
    assert storage.anything_running()


# --- the server's clock -----------------------------------------------------------

def test_times_come_from_the_server_not_this_host(storage, monkeypatch):
    """A host whose clock is an hour ahead enqueues runnable work and leases of the
    right length: nothing on the hot path reads the host's clock."""
    server_now = storage.now()
    assert abs(server_now - time.time()) < 5  # same machine here
    assert storage.clock_epoch() is None
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)
    _enqueue(storage, ("c", 0), run_at=None)
    row = _row(storage, "c")
    assert abs(row["run_at"] - server_now) < 5
    job = storage.claim("w1", 30)
    assert job is not None and abs(job.started_at - server_now) < 5
    assert _row(storage, "c")["lease_expires_at"] == pytest.approx(job.started_at + 30)
    _, stamp, _ = storage.finish(job, "w1", Outcome("failed", 1, "e", "", 10.0), None)
    assert _row(storage, "c")["run_at"] == pytest.approx(stamp + 10.0)
    assert storage.claim("w1", 30) is None  # backoff not over by the server's clock


def test_future_run_at_waits_for_the_server_clock(storage):
    _enqueue(storage, ("later", 0), run_at=storage.now() + 3600)
    assert storage.claim("w1", 30) is None


# --- workers ----------------------------------------------------------------------

def test_worker_rows_heartbeat_on_the_server_clock_and_stop_by_host(storage):
    start = storage.now()
    for worker_id, host in (("a1", "alpha"), ("a2", "alpha"), ("b1", "beta")):
        storage.register_worker(WorkerRow(worker_id, 1, host, "cli", "running", start,
                                          0.0, 0, 0, None))
    rows = {r.id: r for r in storage.workers()}
    assert set(rows) == {"a1", "a2", "b1"}
    assert all(abs(r.heartbeat_at - start) < 5 for r in rows.values())  # not the 0.0 given
    assert storage.heartbeat("a1", 3, 1) == "running"
    assert storage.request_stop(host="beta") == 1
    assert storage.heartbeat("b1", 0, 0) == "stopping"
    assert storage.request_stop(worker_ids=["a2"]) == 1
    assert storage.request_stop() == 1  # only a1 was still running
    storage.delete_workers(["a1"])
    assert storage.heartbeat("a1", 0, 0) is None
    storage.delete_workers(None)
    assert storage.workers() == []


# --- settings, transactions, change detection ------------------------------------

def test_settings_and_identity(storage):
    assert len(storage.setting("database_id")) == 32  # made with the schema
    storage.add_setting("database_id", "other")
    assert storage.setting("database_id") != "other"  # first writer wins
    storage.set_setting("poll_interval", "0.5")
    storage.set_setting("poll_interval", "0.25")
    assert storage.settings()["poll_interval"] == "0.25"
    storage.db.execute_sql("DELETE FROM setting WHERE key = 'poll_interval'")


def test_insert_jobs_is_all_or_nothing(storage):
    _enqueue(storage, ("taken", 0))
    stamp = storage.now()
    with pytest.raises(storage.integrity_errors):
        storage.insert_jobs([("new", "true", "default", 0, 3, None, None, stamp, stamp),
                             ("taken", "true", "default", 0, 3, None, None, stamp, stamp)])
    assert storage.db.execute_sql("SELECT count(*) FROM job").fetchone()[0] == 1
    with storage.write():  # the connection is usable again
        _enqueue(storage, ("new", 0))


def test_data_version_moves_on_commits_not_on_reads(pg_database, storage):
    other = PostgresStorage.open(pg_database)
    try:
        before = storage.data_version()
        other.settings()
        other.workers()
        assert other.claim("w1", 30) is None  # a statement that changes nothing
        assert storage.data_version() == before
        _enqueue(other, ("v", 0))
        after_enqueue = storage.data_version()
        assert after_enqueue != before
        other.claim("w1", 30)
        assert storage.data_version() != after_enqueue
        moved = storage.data_version()
        other.delete_workers(None)  # deletes nothing
        assert storage.data_version() == moved
    finally:
        other.close()


def test_vacuum_and_size(storage):
    before, after = storage.vacuum()
    assert before > 0 and after > 0
    assert storage.size() > 0


def test_iterate_streams_rows_in_batches(storage):
    from queuectl_tui.store import Job

    _enqueue(storage, *((f"i{i:04d}", 0) for i in range(2500)))
    ids = [job.id for job in storage.iterate(Job.select(Job.id).order_by(Job.id))]
    assert ids == [f"i{i:04d}" for i in range(2500)]
    with storage.snapshot():
        assert len(list(storage.iterate(Job.select(Job.id).tuples()))) == 2500


def test_busy_errors_are_lock_conflicts_only(storage):
    lock = psycopg.errors.LockNotAvailable("could not obtain lock")
    assert storage.is_busy(lock)
    assert storage.is_busy(psycopg.errors.DeadlockDetected("deadlock"))
    assert not storage.is_busy(psycopg.errors.UniqueViolation("dup"))
    assert not storage.is_busy(ValueError("x"))


# --- wake-ups ---------------------------------------------------------------------

_WAKER = textwrap.dedent("""
    import sys
    from queuectl_tui.store.postgres import PostgresStorage
    s = PostgresStorage.open(sys.argv[1])
    for _ in range(int(sys.argv[2])):
        s.wake()
""")


def _wake_from_another_process(url, times=1):
    subprocess.run([sys.executable, "-c", _WAKER, url, str(times)], check=True, cwd=ROOT,
                   timeout=30)


def test_waiter_is_woken_from_another_process_and_floods_coalesce(pg_database, storage):
    waiter = storage.waiter()
    try:
        assert waiter.wait(0.05) == "timeout"
        _wake_from_another_process(pg_database, times=50)
        assert waiter.wait(5) == "wakeup"
        # Fifty NOTIFYs, one wake-up (plus at most one more, at the interval's end).
        extra = [waiter.wait(0.1) for _ in range(3)]
        assert extra.count("wakeup") <= 1 and extra[-1] == "timeout"
    finally:
        waiter.close()


def test_notify_inside_a_transaction_arrives_at_commit(storage):
    waiter = storage.waiter()
    try:
        with storage.write():
            storage.wake()
            assert waiter.wait(0.1) == "timeout"
        assert waiter.wait(5) == "wakeup"
    finally:
        waiter.close()


def test_waiter_returns_signal_for_the_wake_fd(storage):
    waiter = storage.waiter()
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"x")
        assert waiter.wait(5, wake_fd=read_end) == "signal"
    finally:
        os.close(read_end)
        os.close(write_end)
        waiter.close()


def _terminate(s, application_name):
    """pg_terminate_backend on this database's connections with that name."""
    return s.db.execute_sql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = %s"
        " AND pid <> pg_backend_pid()", (application_name,)).fetchone()[0]


def test_waiter_reconnects_after_its_connection_is_killed(pg_database, storage):
    waiter = storage.waiter()
    try:
        assert _terminate(storage, "queuectl listen") == 1
        # Never raises: the drop is noticed, the connection reopened, and the first
        # wait after that says "wakeup" (notifications may have been missed).
        deadline = time.monotonic() + 10
        results = []
        while time.monotonic() < deadline and "wakeup" not in results:
            results.append(waiter.wait(0.2))
        assert "wakeup" in results and waiter.connected
        assert waiter.wait(0.05) == "timeout"
        _wake_from_another_process(pg_database)
        assert waiter.wait(5) == "wakeup"
    finally:
        waiter.close()


def test_waiter_without_a_server_waits_and_never_raises():
    waiter = postgres.PgWaiter("postgresql://u:pw@127.0.0.1:1/db", "queuectl_x")
    try:
        assert not waiter.connected
        started = time.monotonic()
        assert waiter.wait(0.3) == "timeout"
        assert 0.25 < time.monotonic() - started < 3
    finally:
        waiter.close()


def test_storage_reconnects_on_the_next_call_after_its_connection_dropped(pg_database):
    s = PostgresStorage.open(pg_database)
    killer = PostgresStorage.open(pg_database)
    try:
        s.settings()
        pid = s.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
        killer.db.execute_sql("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(s.errors) as failure:
            s.settings()
        line = s.describe_error(failure.value)
        assert "\n" not in line and line.startswith("database error: ")
        s.after_error(failure.value)
        assert isinstance(s.settings(), dict)  # a new connection
        # The same for the hot path's own transactions.
        pid = s.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
        killer.db.execute_sql("SELECT pg_terminate_backend(%s)", (pid,))
        row = ("reconnected", "true", "default", 0, 3, None, None, 1.0, 1.0)
        with pytest.raises(s.errors):
            s.insert_jobs([row])
        s.insert_jobs([row])  # all or nothing: the first try left nothing behind
        assert s.db.execute_sql("SELECT count(*) FROM job WHERE id = 'reconnected'"
                                ).fetchone()[0] == 1
        assert s.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0] != pid
    finally:
        s.close()
        killer.close()


# --- the claim's plan ---------------------------------------------------------------

def test_claim_plan_uses_the_partial_index_without_a_sort_at_a_million_rows():
    url = fresh_database("explain")
    try:
        s = PostgresStorage.open(url)
        # One INSERT from generate_series; the indexes are built after it, as a
        # bulk load does (maintaining five b-trees row by row took three times as
        # long), so that the planner sees every index the schema has.
        indexes = s.db.execute_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'job'"
            " AND indexname <> 'job_pkey' AND indexdef NOT LIKE '%%WHERE%%'").fetchall()
        with s.write():
            s.db.execute_sql("ALTER TABLE attempt DROP CONSTRAINT attempt_job_id_fkey")
            s.db.execute_sql("ALTER TABLE dependency DROP CONSTRAINT dependency_job_id_fkey")
            s.db.execute_sql("ALTER TABLE job DROP CONSTRAINT job_pkey")
            for name, _ in indexes:
                s.db.execute_sql(f"DROP INDEX {name}")
            s.db.execute_sql(
                "INSERT INTO job (id, command, state, priority, attempts, max_retries, run_at,"
                " created_at, updated_at, finished_at)"
                " SELECT 'done' || g, 'true', 'completed', g %% 5, 1, 3, g, g, g, g"
                " FROM generate_series(1, 1000000) AS g")
            s.db.execute_sql("SET LOCAL maintenance_work_mem = '256MB'")
            s.db.execute_sql("ALTER TABLE job ADD CONSTRAINT job_pkey PRIMARY KEY (id)")
            s.db.execute_sql("ALTER TABLE attempt ADD CONSTRAINT attempt_job_id_fkey"
                             " FOREIGN KEY (job_id) REFERENCES job (id) ON DELETE CASCADE")
            s.db.execute_sql("ALTER TABLE dependency ADD CONSTRAINT dependency_job_id_fkey"
                             " FOREIGN KEY (job_id) REFERENCES job (id) ON DELETE CASCADE")
            for _, definition in indexes:
                s.db.execute_sql(definition)
        _enqueue(s, *((f"p{i}", i % 3) for i in range(50)))
        s.db.execute_sql("ANALYZE job")
        # The hot path's statement, as the worker sends it.
        plan = "\n".join(row[0] for row in s.db.execute_sql(
            "EXPLAIN " + postgres.CLAIM_SQL, ("w1", 30.0)).fetchall())
        count = s.db.execute_sql("SELECT count(*) FROM job").fetchone()[0]
        assert count == 1_000_050
        assert "job_runnable" in plan, plan
        assert "Sort" not in plan, plan
        assert "Seq Scan" not in plan, plan
        # The same claim inside finish-and-claim-next (a CTE), next to the record.
        for failed in (False, True):
            params = {"id": "done1", "worker": "w1", "attempts": 1, "exit_code": 0,
                      "output": "", "lease": 30.0, "state": "failed", "delay": 1.0,
                      "error": "x", "started_at": 1.0}
            plan = "\n".join(row[0] for row in s.db.execute_sql(
                "EXPLAIN " + postgres.finish_sql(failed, False, False, True), params))
            assert "job_runnable" in plan and "job_pkey" in plan, plan
            assert "Sort" not in plan, plan
            assert "Seq Scan" not in plan, plan
        assert s.claim("w1", 30).id.startswith("p")
        s.close()
    finally:
        drop_database(url)


# --- the schema ---------------------------------------------------------------------

def test_new_database_is_created_at_the_current_version(storage):
    cursor = storage.db.execute_sql("SELECT version FROM queuectl_schema")
    assert cursor.fetchone()[0] == migrations.SCHEMA_VERSION


def test_racing_opens_of_a_new_database_create_the_schema_once():
    url = fresh_database("race")
    try:
        errors = []

        def opener():
            try:
                PostgresStorage.open(url).close()
            except Exception as exc:  # the assertion below shows it
                errors.append(exc)

        threads = [threading.Thread(target=opener) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        s = PostgresStorage.open(url)
        assert s.db.execute_sql("SELECT count(*) FROM queuectl_schema").fetchone()[0] == 1
        s.close()
    finally:
        drop_database(url)


def test_a_version_1_database_upgrades_keeping_its_jobs_and_they_still_run():
    """Version 1 made by its own frozen step, with a job of each kind of row, then
    opened by today's code: step 2 adds the workflow columns and tables, and the
    old rows claim, finish and show as before."""
    url = fresh_database("v1")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            assert migrations.upgrade(conn, "test", target=1) == 0
            conn.execute(
                "INSERT INTO job (id, command, state, run_at, created_at, updated_at)"
                " VALUES ('old', 'echo old', 'pending', 1, 1, 1),"
                " ('gone', 'false', 'dead', 1, 1, 1)")
            conn.execute("INSERT INTO attempt (job_id, number, finished_at, error)"
                         " VALUES ('gone', 1, 2, 'exit code 1')")
        s = PostgresStorage.open(url)
        assert s.db.execute_sql("SELECT version FROM queuectl_schema").fetchone()[0] == 2
        assert s.db.execute_sql(
            "SELECT id, waiting, dependents, cwd, env, unique_key FROM job ORDER BY id"
        ).fetchall() == [("gone", 0, 0, None, None, None), ("old", 0, 0, None, None, None)]
        assert s.db.execute_sql("SELECT error, output FROM attempt").fetchall() == [
            ("exit code 1", None)]
        job = s.claim("w1", 30.0)
        assert (job.id, job.cwd, job.env, job.queue) == ("old", None, None, "default")
        s.close()
    finally:
        drop_database(url)


def test_upgrade_runs_each_missing_step_in_order(monkeypatch):
    url = fresh_database("upgrade")
    try:
        PostgresStorage.open(url).close()  # the current version
        step = migrations.SCHEMA_VERSION + 1
        monkeypatch.setitem(migrations.STEPS, step, (
            "ALTER TABLE worker ADD COLUMN note text",))
        monkeypatch.setattr(migrations, "SCHEMA_VERSION", step)
        s = PostgresStorage.open(url)
        assert s.db.execute_sql("SELECT version FROM queuectl_schema").fetchone()[0] == step
        s.db.execute_sql("SELECT note FROM worker")
        s.close()
        PostgresStorage.open(url).close()  # already there: nothing runs again
    finally:
        drop_database(url)


def test_newer_schema_and_foreign_tables_are_refused_in_one_line():
    url = fresh_database("newer")
    try:
        s = PostgresStorage.open(url)
        s.db.execute_sql("UPDATE queuectl_schema SET version = 99")
        s.close()
        with pytest.raises(StoreError) as refused:
            PostgresStorage.open(url)
        assert "newer queuectl (schema 99" in str(refused.value)
        assert "\n" not in str(refused.value)
    finally:
        drop_database(url)
    url = fresh_database("foreign")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE job (x int)")
        with pytest.raises(StoreError, match="another program"):
            PostgresStorage.open(url)
    finally:
        drop_database(url)


# --- URLs, passwords, errors ---------------------------------------------------------

def test_location_masks_the_password():
    parsed = postgres.parse_url("postgres://bob:s3cr%40t@db.example:6432/queue")
    assert parsed.password == "s3cr@t"
    assert parsed.render() == "postgresql://bob:***@db.example:6432/queue"
    assert "s3cr" in parsed.conninfo
    plain = postgres.parse_url("postgresql://bob@db.example/queue?password=hunter2&sslmode=require")
    assert "hunter2" not in plain.render() and "sslmode=require" in plain.render()
    assert plain.port == 5432
    assert postgres.is_postgres_url("postgres://x/y")
    assert not postgres.is_postgres_url("/tmp/postgres://x")


def test_bad_urls_are_one_line_errors():
    for bad in ("postgresql://host", "postgresql://host:notaport/db", "mysql://h/db"):
        with pytest.raises(StoreError) as refused:
            postgres.parse_url(bad)
        assert "\n" not in str(refused.value)


def test_unreachable_server_is_one_line_without_the_password():
    started = time.monotonic()
    with pytest.raises(StoreError) as refused:
        PostgresStorage.open("postgresql://bob:topsecret@127.0.0.1:1/queue")
    message = str(refused.value)
    assert message.startswith("cannot connect to PostgreSQL at 127.0.0.1:1/queue: ")
    assert "topsecret" not in message and "\n" not in message
    assert time.monotonic() - started < 10


def test_wrong_password_error_does_not_show_it(pg_database):
    # Trust auth accepts any password; an unknown database gives the server's
    # refusal, which must not echo the URL's password either.
    parts = urllib.parse.urlsplit(pg_database)
    netloc = f"{parts.username or 'postgres'}:pw%2Fsecret@{parts.hostname}:{parts.port or 5432}"
    url = urllib.parse.urlunsplit(parts._replace(netloc=netloc, path="/no_such_db_qctl"))
    with pytest.raises(StoreError) as refused:
        PostgresStorage.open(url)
    assert "secret" not in str(refused.value)
    assert "no_such_db_qctl" in str(refused.value)


def test_describe_error_masks_the_password(storage):
    parsed = postgres.parse_url("postgresql://u:hunter2@h/db")
    exc = psycopg.OperationalError("FATAL: password hunter2 rejected\nmore")
    assert postgres._scrub(f"database error: {exc}", parsed) == (
        "database error: FATAL: password *** rejected more")
    assert "\n" not in storage.describe_error(exc)


# --- the driver import ----------------------------------------------------------------

def _python(code, *args, env=None):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env=env or os.environ.copy())


def test_without_psycopg_the_opener_names_the_extra():
    result = _python("""
        import sys
        sys.modules["psycopg"] = None  # as if not installed
        from queuectl_tui.errors import StoreError
        from queuectl_tui.store.postgres import PostgresStorage
        try:
            PostgresStorage.open("postgresql://u:pw@127.0.0.1/db")
        except StoreError as exc:
            print(exc)
    """)
    assert result.returncode == 0, result.stderr
    assert "pip install 'queuectl-tui[postgres]'" in result.stdout
    assert "pw" not in result.stdout.replace("psycopg", "")


def test_works_when_peewee_was_imported_with_psycopg_blocked(pg_database):
    result = _python("""
        import sys
        sys.modules["psycopg"] = None  # what queuectl's package init does
        import peewee
        assert peewee.psycopg is None and peewee.Psycopg3Adapter.txn_idle is None
        del sys.modules["psycopg"]
        from queuectl_tui.store import Job
        from queuectl_tui.store.postgres import PostgresStorage
        s = PostgresStorage.open(sys.argv[1])
        with s.write():
            Job.select().count()
        s.db.execute_sql("SELECT 1")
        assert s.db.is_connection_usable()
        print("ok", type(s.db._adapter).__name__)
    """, pg_database)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", "Psycopg3Adapter"]


def test_latency_is_measured(pg_database):
    figures = postgres.measure_wakeup_latency(pg_database, tries=20)
    assert figures["woken"] == 20
    assert figures["p50_ms"] < 100


def test_a_claim_is_durable_even_on_a_worker_connection(pg_database, storage):
    """A worker's connection commits without waiting for the flush, except when the
    statement claims a job: a claim lost in a server crash would let a second worker
    start the job beside the first. Seen inside the statement's own transaction
    (rolled back): the claim switched synchronous_commit on, a finish that claimed
    nothing left it off."""
    _enqueue(storage, ("first", 1), ("second", 0))
    worker = PostgresStorage.open(pg_database)
    try:
        worker.for_worker()
        job = worker.claim("w1", 30)
        conn = worker._conn()
        for claim, expected in ((True, "on"), (False, "off")):
            conn.execute("BEGIN")
            try:
                row = conn.execute(postgres.finish_sql(False, False, False, claim), {
                    "id": job.id, "worker": "w1", "attempts": job.attempts, "exit_code": 0,
                    "output": "", "lease": 30.0}).fetchone()
                assert row[0] is not None  # recorded
                assert (row[2] == "second") is claim
                assert conn.execute("SHOW synchronous_commit").fetchone()[0] == expected
            finally:
                conn.execute("ROLLBACK")
        assert _synchronous_commit(worker) == "off"  # the session setting is untouched
    finally:
        worker.close()
