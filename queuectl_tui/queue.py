"""The domain: every change of a job's state, each in one transaction.

Nothing else in the package moves a job between states. The faces (CLI, TUI)
and the worker call these methods; the store supplies the models and the fixed
SQL of the hot path.

Delivery is at-least-once: a job is claimed with a lease that its worker
renews; if the worker dies, the lease runs out, and ``recover_expired`` counts
the run as a failed attempt and makes the job runnable again. Every write a
worker makes to its job is fenced by (worker id, attempt number), so a worker
that lost its lease can never overwrite the newer run's result.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import peewee

from queuectl_tui import store
from queuectl_tui.config import SETTINGS, Config, normalize_key
from queuectl_tui.errors import Conflict, InvalidInput, NotFound
from queuectl_tui.store import Attempt, Job, Setting
from queuectl_tui.timeutil import now

if TYPE_CHECKING:
    from queuectl_tui.jobspec import JobSpec

_IN_CHUNK = 500  # bound parameters per IN (...) lookup, well under SQLite's limit


class Claimed(NamedTuple):
    """A job a worker holds: just what it needs to run and record it."""

    id: str
    command: str
    attempts: int
    max_retries: int
    timeout: float | None
    started_at: float


def new_job_id() -> str:
    """64 random bits: collision-free in practice, short enough for a table column."""
    return os.urandom(8).hex()


class JobQueue:
    """The operations on one database."""

    def __init__(self, db: peewee.SqliteDatabase):
        self.db = db

    @classmethod
    def open(cls, path) -> JobQueue:
        return cls(store.open_store(path))

    def close(self) -> None:
        self.db.close()

    # --- configuration -------------------------------------------------------

    def config(self) -> Config:
        rows = self.db.execute_sql("SELECT key, value FROM setting").fetchall()
        return Config.from_stored(dict(rows))

    def set_config(self, key: str, raw: object) -> int | float:
        """Validate and save one setting; returns the stored value."""
        name = normalize_key(key)
        value = SETTINGS[name].parse(raw)
        Setting.replace(key=name, value=str(value)).execute()
        return value

    # --- enqueue -------------------------------------------------------------

    def enqueue(self, specs: Sequence[JobSpec]) -> list[str]:
        """Insert all jobs or none; returns their ids in order."""
        if not specs:
            raise InvalidInput("no jobs to enqueue")
        config = self.config()
        stamp = now()
        ids = [spec.id or new_job_id() for spec in specs]
        seen: set[str] = set()
        for job_id in ids:
            if job_id in seen:
                raise Conflict(f"job id {job_id!r} appears twice in the input")
            seen.add(job_id)
        rows = [
            (
                job_id,
                spec.command,
                spec.queue,
                spec.priority,
                config.max_retries if spec.max_retries is None else spec.max_retries,
                spec.timeout,
                stamp if spec.run_at is None else spec.run_at,
                # created_at orders equal-priority jobs; keep input order within a batch.
                stamp + index * 1e-6,
                stamp,
            )
            for index, (job_id, spec) in enumerate(zip(ids, specs, strict=True))
        ]
        try:
            with self.db.atomic():
                self.db.cursor().executemany(store.BULK_INSERT_SQL, rows)
        except (peewee.IntegrityError, sqlite3.IntegrityError):
            taken = self._existing_ids(ids)
            raise Conflict(
                f"job id {taken[0]!r} already exists" if taken else "duplicate job id"
            ) from None
        self.wake_workers()
        return ids

    def wake_workers(self) -> None:
        """Ring the idle workers on this machine: new work is committed."""
        from queuectl_tui import doorbell

        if not doorbell.SUPPORTED:
            return
        names = [name for (name,) in self.db.execute_sql(
            "SELECT doorbell FROM worker WHERE hostname = ? AND doorbell IS NOT NULL",
            (socket.gethostname(),)).fetchall()]
        doorbell.ring(names)

    def _existing_ids(self, ids: Iterable[str]) -> list[str]:
        ids = list(ids)
        found: set[str] = set()
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            found.update(j.id for j in Job.select(Job.id).where(Job.id.in_(chunk)))
        return [i for i in ids if i in found]

    # --- the worker's hot path -----------------------------------------------

    def claim(self, worker_id: str, lease_seconds: float) -> Claimed | None:
        """Take the best runnable job, atomically: one UPDATE ... RETURNING.

        SQLite runs the statement under its single write lock, so the sub-select
        and the update see the same snapshot and no other worker can pick the
        same row in between.
        """
        stamp = now()
        rows = self.db.connection().execute(
            store.CLAIM_SQL, (worker_id, stamp, stamp + lease_seconds)
        ).fetchall()  # to the end: the change commits when the statement finishes
        return Claimed(*rows[0], started_at=stamp) if rows else None

    def finish(
        self,
        job: Claimed,
        worker_id: str,
        exit_code: int | None,
        error: str | None,
        output: str,
        config: Config,
        claim_lease: float | None = None,
    ) -> tuple[str | None, Claimed | None]:
        """Record a run (completed; or failed with backoff, or dead) with its attempt
        row and, in the same transaction, claim the worker's next job.

        One write transaction per job instead of two: on the hot path the commit
        is the largest cost after spawning the command. Returns the job's new
        state (None if it was no longer ours: cancelled, or its lease lost) and
        the next claimed job (None if there is none or ``claim_lease`` is None).
        Raw sqlite3 calls on Peewee's connection: the ORM's wrapper costs more
        than the statements themselves here.
        """
        stamp = now()
        if error is None:
            state, retry_at = "completed", None
            statement = store.COMPLETE_SQL
            params = (stamp, stamp, exit_code, output, job.id, worker_id, job.attempts)
        else:
            state, retry_at = _after_failure(job.attempts, job.max_retries, stamp, config)
            statement = store.FAIL_SQL
            params = (state, retry_at or stamp, stamp, stamp, exit_code, output, error,
                      job.id, worker_id, job.attempts)
        conn = self.db.connection()
        following = None
        conn.execute("BEGIN IMMEDIATE")
        try:
            recorded = conn.execute(statement, params).rowcount == 1
            if recorded and error is not None:
                # Failed runs get an attempt row; a successful run is recorded on the
                # job row itself (worker, start, finish, exit code) and ``attempts``
                # adds it to the timeline. Under contention the extra row, with its
                # foreign-key check, cost ~40% of a job's database time.
                conn.execute(store.ATTEMPT_SQL, (job.id, job.attempts, worker_id,
                                                 job.started_at, stamp, exit_code, error,
                                                 retry_at))
            if claim_lease is not None:
                rows = conn.execute(store.CLAIM_SQL,
                                    (worker_id, stamp, stamp + claim_lease)).fetchall()
                if rows:
                    following = Claimed(*rows[0], started_at=stamp)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return (state if recorded else None), following

    def complete(self, job: Claimed, worker_id: str, exit_code: int, output: str) -> bool:
        """Record success. False if the job was no longer ours (cancelled, lease lost)."""
        state, _ = self.finish(job, worker_id, exit_code, None, output, Config())
        return state is not None

    def fail(
        self,
        job: Claimed,
        worker_id: str,
        exit_code: int | None,
        error: str,
        output: str,
        config: Config,
    ) -> str | None:
        """Record a failed run: back off and retry, or move to the DLQ.

        Returns the new state (``failed`` or ``dead``), or None if the job was
        no longer ours.
        """
        state, _ = self.finish(job, worker_id, exit_code, error, output, config)
        return state

    def release(self, job: Claimed, worker_id: str) -> bool:
        """Put a job back untouched (second signal): the interrupted run is not charged."""
        cursor = self.db.execute_sql(
            store.RELEASE_SQL, (now(), job.id, worker_id, job.attempts)
        )
        return cursor.rowcount == 1

    def renew_lease(self, job: Claimed, worker_id: str, lease_seconds: float) -> bool:
        """Extend the lease; False means the job was taken away and must be stopped."""
        cursor = self.db.execute_sql(
            store.RENEW_SQL, (now() + lease_seconds, job.id, worker_id, job.attempts)
        )
        return cursor.rowcount == 1

    def recover_expired(self) -> list[str]:
        """Take back jobs whose worker stopped renewing its lease.

        Each such run counts as a failed attempt (the worker may have died
        because of the job), so a job that keeps killing its workers still
        ends in the DLQ instead of looping forever.
        """
        stamp = now()
        if self.db.execute_sql(store.ANY_EXPIRED_SQL, (stamp,)).fetchone() is None:
            return []
        expired = self.db.execute_sql(store.EXPIRED_SQL, (stamp,)).fetchall()
        # Before the job can run again, stop what may be left of the lost run
        # on this machine (its worker may have been killed with its supervisor).
        from queuectl_tui.runner import kill_strays

        host = socket.gethostname()
        for job_id, attempts, _, worker_id, _ in expired:
            if worker_id and worker_id.rsplit("-", 2)[0] == host:
                kill_strays(job_id, attempts)
        config = self.config()
        recovered = []
        with self.db.atomic():
            for job_id, attempts, max_retries, worker_id, started_at in expired:
                error = f"worker {worker_id} stopped responding (lease expired)"
                state, retry_at = _after_failure(attempts, max_retries, stamp, config)
                cursor = self.db.execute_sql(
                    store.RECOVER_SQL,
                    (state, retry_at or stamp, stamp, stamp, None, None, error,
                     job_id, worker_id, attempts, stamp),
                )
                if cursor.rowcount != 1:
                    continue  # renewed, or recovered meanwhile by another process
                self.db.execute_sql(
                    store.ATTEMPT_SQL,
                    (job_id, attempts, worker_id, started_at, stamp, None, error, retry_at),
                )
                recovered.append(job_id)
        return recovered

    # --- operator actions ----------------------------------------------------

    def retry_dead(self, ids: Sequence[str] | None) -> list[str]:
        """Move dead jobs back to pending with attempts reset (``ids=None``: all).

        All-or-nothing: an unknown or non-dead id refuses the whole call.
        """
        stamp = now()
        with self.db.atomic():
            if ids is None:
                targets = [j.id for j in Job.select(Job.id).where(Job.state == "dead")]
            else:
                targets = self._ids_in_states(ids, ("dead",), "retried from the DLQ")
            for start in range(0, len(targets), _IN_CHUNK):
                chunk = targets[start : start + _IN_CHUNK]
                Job.update(
                    state="pending", attempts=0, run_at=stamp, updated_at=stamp,
                    worker_id=None, lease_expires_at=None, started_at=None, finished_at=None,
                ).where(Job.id.in_(chunk), Job.state == "dead").execute()
        if targets:
            self.wake_workers()
        return targets

    def cancel(self, ids: Sequence[str]) -> list[str]:
        """Cancel pending, failed or running jobs (a running one is stopped by its worker)."""
        stamp = now()
        allowed = ("pending", "failed", "processing")
        with self.db.atomic():
            targets = self._ids_in_states(ids, allowed, "cancelled")
            for start in range(0, len(targets), _IN_CHUNK):
                Job.update(
                    state="cancelled", updated_at=stamp, finished_at=stamp,
                    lease_expires_at=None,
                ).where(Job.id.in_(targets[start : start + _IN_CHUNK]),
                        Job.state.in_(allowed)).execute()
        return targets

    def delete(self, ids: Sequence[str]) -> list[str]:
        """Delete jobs that are not running, with their attempt history."""
        allowed = ("pending", "failed", "completed", "dead", "cancelled")
        with self.db.atomic():
            targets = self._ids_in_states(ids, allowed, "deleted")
            for start in range(0, len(targets), _IN_CHUNK):
                Job.delete().where(Job.id.in_(targets[start : start + _IN_CHUNK])).execute()
        return targets

    def purge(self, states: Sequence[str], older_than: float | None = None) -> int:
        """Delete finished jobs in ``states``, optionally only those finished before a time."""
        bad = [s for s in states if s not in store.FINISHED_STATES]
        if bad:
            raise InvalidInput(f"only finished jobs can be purged, not {bad[0]!r}")
        query = Job.delete().where(Job.state.in_(list(states)))
        if older_than is not None:
            query = query.where(Job.updated_at < older_than)
        with self.db.atomic():
            return query.execute()

    def _ids_in_states(self, ids: Sequence[str], allowed: Sequence[str], verb: str) -> list[str]:
        """Check that every id exists and is in an allowed state; called inside the
        transaction that acts on them, so the check and the change see one snapshot."""
        unique = list(dict.fromkeys(ids))
        for job_id in unique:
            _storable(job_id)
        if not unique:
            raise InvalidInput("no job ids given")
        states: dict[str, str] = {}
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start : start + _IN_CHUNK]
            states.update(Job.select(Job.id, Job.state).where(Job.id.in_(chunk)).tuples())
        for job_id in unique:
            if job_id not in states:
                raise NotFound(f"no job with id {job_id!r}")
            if states[job_id] not in allowed:
                raise Conflict(
                    f"job {job_id!r} is {states[job_id]}; only "
                    f"{', '.join(allowed)} jobs can be {verb}"
                )
        return unique

    # --- reading -------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        _storable(job_id)
        job = Job.get_or_none(Job.id == job_id)
        if job is None:
            raise NotFound(f"no job with id {job_id!r}")
        return job

    def attempts(self, job_id: str, job: Job | None = None) -> list[Attempt]:
        """The job's runs in order: the failed ones from the attempt table, and the
        successful last run from the job row (see ``finish``). Pass the ``job`` if
        it is at hand, to save reading it again."""
        runs = list(Attempt.select().where(Attempt.job == job_id).order_by(Attempt.id))
        if job is None:
            job = Job.get_or_none(Job.id == job_id)
        if job is not None and job.state == "completed":
            runs.append(Attempt(job=job.id, number=job.attempts, worker_id=job.worker_id,
                                started_at=job.started_at, finished_at=job.finished_at,
                                exit_code=job.exit_code, error=None, retry_at=None))
        return runs

    def counts(self) -> dict[str, int]:
        """Jobs per state, every state present (zero if none)."""
        counts = dict.fromkeys(store.STATES, 0)
        for state, count in self.db.execute_sql(
            "SELECT state, count(*) FROM job GROUP BY state"
        ).fetchall():
            counts[state] = count
        return counts

    def list_jobs(
        self,
        state: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Job]:
        """Jobs in creation order; with ``limit``, the most recent ``limit`` of them."""
        query = self._matching(state, None)
        if limit is None:
            return list(query.order_by(Job.created_at.desc() if newest_first
                                       else Job.created_at))
        latest = list(query.order_by(Job.created_at.desc()).limit(limit))
        return latest if newest_first else latest[::-1]

    def page(
        self,
        state: str | None = None,
        search: str | None = None,
        sort: str = "created",
        descending: bool = True,
        offset: int = 0,
        limit: int = 200,
    ) -> list[Job]:
        """One window of a filtered, sorted listing: what a screen can show,
        never the whole table."""
        column = SORT_COLUMNS[sort]
        order = [column.desc() if descending else column.asc()]
        if column is not Job.created_at:  # the tie-breaker goes the same way: one index
            order.append(Job.created_at.desc() if descending else Job.created_at.asc())
        return list(self._matching(state, search).order_by(*order).offset(offset).limit(limit))

    def count(self, state: str | None = None, search: str | None = None) -> int:
        return self._matching(state, search).count()

    def _matching(self, state: str | None, search: str | None):
        """Jobs in ``state`` whose id or command contains ``search``. The captured
        output is not loaded: listings never show it, and it is the bulk of a row."""
        query = Job.select(*[f for f in Job._meta.sorted_fields if f is not Job.output])
        if state is not None:
            query = query.where(Job.state == state)
        if search:
            query = query.where(Job.id.contains(search) | Job.command.contains(search))
        return query


# Columns a listing may be sorted by (the TUI's column headers).
SORT_COLUMNS = {
    "created": Job.created_at,
    "updated": Job.updated_at,
    "priority": Job.priority,
    "state": Job.state,
    "attempts": Job.attempts,
    "id": Job.id,
    "run_at": Job.run_at,
}


def _storable(job_id: str) -> None:
    """An id SQLite cannot even bind (a lone surrogate from non-UTF-8 argv bytes)
    names no job: say so, rather than fail inside the driver."""
    try:
        job_id.encode("utf-8")
    except UnicodeEncodeError:
        raise NotFound(f"no job with id {job_id!r}") from None


def _after_failure(
    attempts: int, max_retries: int, stamp: float, config: Config
) -> tuple[str, float | None]:
    """Dead once the job has failed max_retries times (it always runs once);
    otherwise failed, runnable again after backoff_base ** attempts seconds."""
    if attempts >= max(max_retries, 1):
        return "dead", None
    return "failed", stamp + config.backoff_delay(attempts)
