"""The domain: every change of a job's state, each in one transaction.

Nothing else in the package moves a job between states. The faces (CLI, TUI)
and the worker call these methods; the storage (``store.base.Storage``, one
class per backend) supplies the models, the transactions and the hot path's
statements. Nothing here knows SQL or which database it runs on.

Delivery is at-least-once: a job is claimed with a lease that its worker
renews; if the worker dies, the lease runs out, and ``recover_expired`` counts
the run as a failed attempt and makes the job runnable again. Every write a
worker makes to its job is fenced by (worker id, attempt number), so a worker
that lost its lease can never overwrite the newer run's result.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import peewee

from queuectl_tui import store
from queuectl_tui.config import SETTINGS, Config, normalize_key
from queuectl_tui.errors import Conflict, InvalidInput, NotFound, QueueError
from queuectl_tui.host import hostname
from queuectl_tui.store import DATABASE_ID_KEY, LEASE_BOOT_KEY, Attempt, Job, Storage
from queuectl_tui.store.base import ClaimedRow, LeaseRow, NewJob, Outcome

if TYPE_CHECKING:
    from queuectl_tui.jobspec import JobSpec
    from queuectl_tui.schedules import ScheduleBook

# The job states in display order, for the faces: the TUI gets them here, as it
# gets everything else from the domain, never from the store.
STATES = store.STATES
FINISHED_STATES = store.FINISHED_STATES

# The grace a suspect lease gets (half a lease, at most this): many times the
# interval at which a live worker that cannot write retries (worker.RECORD_RETRY_SECONDS).
MAX_RECOVERY_GRACE = 3.0

_IN_CHUNK = 500  # bound parameters per IN (...) lookup, well under SQLite's limit
# Jobs per write transaction of a bulk operator action: a few milliseconds of
# holding the write lock each (see "Bulk rule" in JobQueue).
BULK_CHUNK = 500


# A job a worker holds: just what it needs to run and record it.
Claimed = ClaimedRow


def new_job_id() -> str:
    """64 random bits: collision-free in practice, short enough for a table column."""
    return os.urandom(8).hex()


class ReadOnly(QueueError):
    """A change was asked of a queue opened read-only (a wall display)."""


def _changes(method):
    """Marks a method that changes the database: refused on a read-only queue."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        if self.read_only:
            raise ReadOnly("this queue is open read-only: nothing can be changed here")
        return method(self, *args, **kwargs)

    return guarded


class JobQueue:
    """The operations on one database. ``read_only`` (``queuectl web --read-only``)
    refuses every change with one ``ReadOnly`` error, and skips the lease recovery
    that reads otherwise do (the workers and other commands still do it)."""

    def __init__(self, storage: Storage, read_only: bool = False):
        self.storage = storage
        self.db = storage.db  # the Peewee database the models are bound to
        self.read_only = read_only
        self._boot_checked = False  # leases of an earlier clock era taken back (once per open)

    @classmethod
    def open(cls, target, read_only: bool = False, create: bool = True) -> JobQueue:
        """Open a SQLite path or a PostgreSQL URL (see ``store.open_store``)."""
        return cls(store.open_store(target, create=create), read_only=read_only)

    def close(self) -> None:
        self.storage.close()

    # --- configuration -------------------------------------------------------

    def config(self) -> Config:
        return Config.from_stored(self.storage.settings())

    @_changes
    def set_config(self, key: str, raw: object) -> int | float:
        """Validate and save one setting; returns the stored value."""
        name = normalize_key(key)
        value = SETTINGS[name].parse(raw)
        self.storage.set_setting(name, str(value))
        return value

    # --- enqueue -------------------------------------------------------------

    @_changes
    def enqueue(self, specs: Sequence[JobSpec]) -> list[str]:
        """Insert all jobs or none; returns their ids in order."""
        if not specs:
            raise InvalidInput("no jobs to enqueue")
        config = self.config()
        stamp = self.storage.now()
        ids = [spec.id or new_job_id() for spec in specs]
        seen: set[str] = set()
        for job_id in ids:
            if job_id in seen:
                raise Conflict(f"job id {job_id!r} appears twice in the input")
            seen.add(job_id)
        rows = [
            NewJob(
                id=job_id,
                command=spec.command,
                queue=spec.queue,
                priority=spec.priority,
                max_retries=config.max_retries if spec.max_retries is None else spec.max_retries,
                timeout=spec.timeout,
                run_at=spec.run_at,  # None: the storage's now
                # created_at orders equal-priority jobs; keep input order within a batch.
                created_at=stamp + index * 1e-6,
                updated_at=stamp,
                cwd=spec.cwd,
                env=None if spec.env is None else json.dumps(spec.env, ensure_ascii=False),
                unique_key=spec.unique_key,
                after=spec.after,
            )
            for index, (job_id, spec) in enumerate(zip(ids, specs, strict=True))
        ]
        try:
            skipped = self.storage.insert_jobs(rows)
        except self.storage.integrity_errors:
            taken = self._existing_ids(ids)
            raise Conflict(
                f"job id {taken[0]!r} already exists" if taken else "duplicate job id"
            ) from None
        self.wake_workers()
        # A row skipped for its unique key answers with the live job holding the key.
        return [skipped.get(job_id, job_id) for job_id in ids]

    def wake_workers(self) -> None:
        """Tell the idle workers that new work is committed (best effort: polling
        is the fallback)."""
        self.storage.wake()

    def _existing_ids(self, ids: Iterable[str]) -> list[str]:
        ids = list(ids)
        found: set[str] = set()
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            found.update(j.id for j in Job.select(Job.id).where(Job.id.in_(chunk)))
        return [i for i in ids if i in found]

    # --- the worker's hot path -----------------------------------------------

    @_changes
    def claim(self, worker_id: str, lease_seconds: float) -> Claimed | None:
        """Take the best runnable job, atomically, in one statement (see the storage)."""
        return self.storage.claim(worker_id, lease_seconds)

    @_changes
    def finish(
        self,
        job: Claimed,
        worker_id: str,
        exit_code: int | None,
        error: str | None,
        output: str | bytearray,  # bytearray: valid UTF-8 (runner._Tail.text)
        config: Config,
        claim_lease: float | None = None,
    ) -> tuple[str | None, Claimed | None]:
        """Record a run (completed; or failed with backoff, or dead) with its attempt
        row and, in the same transaction, claim the worker's next job.

        One write transaction per job instead of two: on the hot path the commit
        is the largest cost after spawning the command. Returns the job's new
        state (None if it was no longer ours: cancelled, or its lease lost) and
        the next claimed job (None if there is none or ``claim_lease`` is None).
        """
        if error is None:
            outcome = Outcome("completed", exit_code, None, output, None)
        else:
            state, delay = _after_failure(job.attempts, job.max_retries, config)
            outcome = Outcome(state, exit_code, error, output, delay)
        recorded, _, following = self.storage.finish(job, worker_id, outcome, claim_lease)
        return (outcome.state if recorded else None), following

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

    @_changes
    def release(self, job: Claimed, worker_id: str) -> bool:
        """Put a job back untouched (second signal): the interrupted run is not charged."""
        return self.storage.release(job, worker_id)

    @_changes
    def renew_lease(self, job: Claimed, worker_id: str, lease_seconds: float) -> bool:
        """Extend the lease; False means the job was taken away and must be stopped."""
        return self.storage.renew(job, worker_id, lease_seconds)

    @_changes
    def prepare_worker(self) -> str:
        """What a worker does before its first claim, in one transaction: take
        back what an earlier era of the lease clock left running (an earlier
        boot, on SQLite), stamp the database with this era (leases from now on
        are readings of its clock), and make the database's identity on first
        use. Returns that identity."""
        with self.storage.write():
            self._take_back_earlier_boot(always=True)
            self.storage.add_setting(DATABASE_ID_KEY, os.urandom(16).hex())
            return self.database_id()

    def database_id(self) -> str | None:
        """This database's random identity (see ``store.DATABASE_ID_KEY``), None
        until a worker has started on it."""
        return self.storage.setting(DATABASE_ID_KEY)

    def _take_back_earlier_boot(self, always: bool = False) -> list[str]:
        """Leases and heartbeats are readings of the storage's lease clock, which
        on SQLite restarts at boot: a database last used under another boot (or
        by a queuectl that kept leases on the wall clock) holds readings that
        mean nothing now. No process of an earlier boot is alive, so its running
        jobs are taken back at once and its workers' rows removed. Writes only
        when there is something to take back (or ``always``, for a worker about
        to claim). A clock without eras (PostgreSQL's) skips all this."""
        current = self.storage.clock_epoch()
        if current is None or self.storage.setting(LEASE_BOOT_KEY) == current:
            self._boot_checked = True
            return []
        if not always and not self.storage.anything_running():
            self._boot_checked = True  # nothing to take back; a worker stamps the boot
            return []
        recovered = []
        with self.storage.write():
            if self.storage.setting(LEASE_BOOT_KEY) != current:  # re-read under the lock
                config = self.config()
                error = "the machine restarted while it ran (lease of an earlier boot)"
                for row in self.storage.expired(everything=True):
                    recovered += self._take_back(row, error, config)
                self.storage.delete_workers(None)
                self.storage.set_setting(LEASE_BOOT_KEY, current)
        self._boot_checked = True
        return recovered

    def _take_back(self, row: LeaseRow, error: str, config: Config) -> list[str]:
        """One lost run: a failed attempt (or dead), fenced on the lease value seen."""
        state, delay = _after_failure(row.attempts, row.max_retries, config)
        if not self.storage.take_back(row, state, delay, error):
            return []  # renewed, or recovered meanwhile by another process
        return [row.id]

    def recover_expired_if_writable(self) -> list[str]:
        """``recover_expired`` for the reading faces (CLI reading commands, the
        TUI's refresh): no dead worker's job shown as running if it can help it,
        but on a full disk or a read-only file the reading goes on without it."""
        try:
            return self.recover_expired()
        except self.storage.errors:
            return []

    def recover_expired(self) -> list[str]:
        """Take back jobs whose worker stopped renewing its lease.

        In two steps, one pass apart: an expired lease is first marked suspect,
        which gives its worker a grace period (half a lease, at most
        ``MAX_RECOVERY_GRACE``) to renew it; only a
        suspect lease still not renewed after the grace is taken back. A worker
        that is alive but could not write for a while (disk full) renews within
        the grace, so the result it holds is recorded and never re-run; the first
        write that succeeds after an outage can only be a mark, never a take-back.

        A taken-back run counts as a failed attempt (the worker may have died
        because of the job), so a job that keeps killing its workers still ends
        in the DLQ instead of looping forever.
        """
        if self.read_only:
            return []
        recovered = [] if self._boot_checked else self._take_back_earlier_boot()
        if not self.storage.any_expired():
            return recovered
        expired = self.storage.expired()
        clock = self.storage.clock()
        config = self.config()
        suspects = [row for row in expired if row.lease_expires_at >= 0]
        due = [row for row in expired
               if row.lease_expires_at < 0 and -row.lease_expires_at <= clock]
        if suspects:
            grace = min(config.lease_seconds / 2, MAX_RECOVERY_GRACE)
            with self.storage.write():
                for row in suspects:
                    self.storage.mark_suspect(row, grace)
        if not due:
            return recovered
        # Before the job can run again, stop what may be left of the lost run
        # on this machine (its worker may have been killed with its supervisor).
        from queuectl_tui.runner import kill_strays

        host = hostname()
        database_id = self.database_id()  # None: no worker ever ran here, no strays
        for row in due:
            if database_id and row.worker_id and row.worker_id.rsplit("-", 2)[0] == host:
                kill_strays(row.id, row.attempts, database_id)
        with self.storage.write():
            for row in due:
                error = f"worker {row.worker_id} stopped responding (lease expired)"
                recovered += self._take_back(row, error, config)
        return recovered

    # --- operator actions ----------------------------------------------------
    #
    # Bulk rule: an operator action on many jobs works in chunks of BULK_CHUNK jobs,
    # each chunk its own short write transaction, so workers and `enqueue` get the
    # write lock between chunks instead of waiting for the whole operation. A chunk
    # is all-or-nothing; an operation interrupted midway (killed, disk full) leaves
    # the chunks before it done (`dlq retry --all`: the oldest dead jobs) and running
    # it again does the rest. Explicit ids are all checked first: an unknown id or
    # one in the wrong state refuses the whole call and changes nothing; up to
    # BULK_CHUNK ids are one transaction, check included, exactly as a single id is.
    # (Beyond that, a job another process moves on between the check and its chunk
    # is skipped.) Each ``apply`` below changes exactly the ids it is given, by
    # primary key: they were checked in the same write transaction (adding ``AND
    # state = ...`` would make SQLite walk every job in that state, once per chunk).

    @_changes
    def retry_dead(self, ids: Sequence[str] | None,
                   on_chunk: Callable[[list[str]], None] | None = None) -> list[str]:
        """Move dead jobs back to pending with attempts reset (``ids=None``: every job
        dead when the call starts). Returns the ids retried; ``on_chunk`` hears each
        chunk as it commits. See the bulk rule above."""
        stamp = self.storage.now()

        def apply(chunk: list[str]) -> list[str]:
            Job.update(
                state="pending", attempts=0, run_at=stamp, updated_at=stamp,
                worker_id=None, lease_expires_at=None, started_at=None, finished_at=None,
            ).where(Job.id.in_(chunk)).execute()
            return chunk

        if ids is None:
            # Jobs that die again while this runs (updated after ``stamp``) are not
            # retried twice by one call: a job that fails at once cannot keep it going.
            done = self._chunks_of_query(
                lambda: self._oldest_ids(Job.state == "dead", Job.updated_at <= stamp),
                apply, on_chunk)
        else:
            done = self._chunks_of_ids(ids, ("dead",), "retried from the DLQ", apply, on_chunk)
        if done:
            self.wake_workers()
        return done

    @_changes
    def cancel(self, ids: Sequence[str],
               on_chunk: Callable[[list[str]], None] | None = None) -> list[str]:
        """Cancel pending, failed or running jobs (a running one is stopped by its worker)."""
        stamp = self.storage.now()
        allowed = ("pending", "failed", "processing")

        def apply(chunk: list[str]) -> list[str]:
            Job.update(
                state="cancelled", updated_at=stamp, finished_at=stamp,
                lease_expires_at=None,
            ).where(Job.id.in_(chunk)).execute()
            return chunk

        return self._chunks_of_ids(ids, allowed, "cancelled", apply, on_chunk)

    @_changes
    def delete(self, ids: Sequence[str],
               on_chunk: Callable[[list[str]], None] | None = None) -> list[str]:
        """Delete jobs that are not running, with their attempt history."""
        allowed = ("pending", "failed", "completed", "dead", "cancelled")

        def apply(chunk: list[str]) -> list[str]:
            Job.delete().where(Job.id.in_(chunk)).execute()
            return chunk

        return self._chunks_of_ids(ids, allowed, "deleted", apply, on_chunk)

    @_changes
    def purge(self, states: Sequence[str], older_than: float | None = None) -> int:
        """Delete finished jobs in ``states`` (those finished before ``older_than``, if
        given) with their history; returns how many. In chunks: see the bulk rule."""
        bad = [s for s in states if s not in FINISHED_STATES]
        if bad:
            raise InvalidInput(f"only finished jobs can be purged, not {bad[0]!r}")
        # Only what was finished when the call started: a busy queue cannot keep it going.
        stamp = self.storage.now()
        cutoff = stamp if older_than is None else min(older_than, stamp)
        purged = 0
        for state in dict.fromkeys(states):  # one state at a time: each walks its index
            while True:
                started = time.monotonic()
                with self.storage.write():
                    chunk = Job.select(Job.id).where(
                        Job.state == state, Job.updated_at <= cutoff).limit(BULK_CHUNK)
                    deleted = Job.delete().where(Job.id.in_(chunk)).execute()
                purged += deleted
                if deleted < BULK_CHUNK:
                    break
                _let_others_write(started)
        return purged

    @_changes
    def vacuum(self) -> tuple[int, int]:
        """Give the space of deleted rows back to the file system (after a purge).

        On SQLite this rewrites the whole database and holds the write lock while
        it runs (seconds for a large file), so it is a separate, explicit step.
        Returns the database size in bytes before and after.
        """
        return self.storage.vacuum()

    def _oldest_ids(self, *conditions) -> list[str]:
        """The next chunk of ids matching ``conditions``, oldest first (the index
        order of ``(state, created_at)``: no sort)."""
        query = Job.select(Job.id).where(*conditions).order_by(Job.created_at)
        return [job_id for (job_id,) in query.limit(BULK_CHUNK).tuples()]

    def _chunks_of_query(self, next_chunk: Callable[[], list[str]],
                         apply: Callable[[list[str]], list[str]],
                         on_chunk: Callable[[list[str]], None] | None) -> list[str]:
        """``apply`` to ``next_chunk()`` until it is empty, one transaction each."""
        done: list[str] = []
        while True:
            started = time.monotonic()
            with self.storage.write():
                chunk = next_chunk()
                changed = apply(chunk) if chunk else []
            if not chunk:
                return done
            done.extend(changed)
            if on_chunk is not None and changed:
                on_chunk(changed)
            _let_others_write(started)

    def _chunks_of_ids(self, ids: Sequence[str], allowed: Sequence[str], verb: str,
                       apply: Callable[[list[str]], list[str]],
                       on_chunk: Callable[[list[str]], None] | None) -> list[str]:
        """``apply`` to the given ids after checking them all (see the bulk rule)."""
        unique = list(dict.fromkeys(ids))
        if len(unique) > BULK_CHUNK:
            with self.storage.snapshot():  # one snapshot for the check, no write lock
                self._ids_in_states(unique, allowed, verb)
        done: list[str] = []
        for start in range(0, max(len(unique), 1), BULK_CHUNK):
            started = time.monotonic()
            with self.storage.write():
                # Checked again under the write lock: the one check for a short list;
                # for a long one, skip what another process moved on meanwhile.
                chunk = unique[start : start + BULK_CHUNK]
                if len(unique) <= BULK_CHUNK:
                    chunk = self._ids_in_states(chunk, allowed, verb)
                else:
                    chunk = self._still_in(chunk, allowed)
                changed = apply(chunk) if chunk else []
            done.extend(changed)
            if on_chunk is not None and changed:
                on_chunk(changed)
            if start + BULK_CHUNK < len(unique):
                _let_others_write(started)
        return done

    def _still_in(self, ids: list[str], allowed: Sequence[str]) -> list[str]:
        """Those of ``ids`` (at most BULK_CHUNK) still in an allowed state, in order.
        (The state is filtered here, not in SQL: ``id IN (...) AND state = ...`` makes
        SQLite walk the state index, every job in that state, instead of 500 lookups.)"""
        states = dict(Job.select(Job.id, Job.state).where(Job.id.in_(ids)).tuples())
        return [job_id for job_id in ids if states.get(job_id) in allowed]

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

    def get(self, job_id: str, output_tail: int | None = None) -> Job:
        """One job. With ``output_tail``, ``job.output`` holds only the last
        ``output_tail`` characters of the captured output (the database cuts it, so a
        large output is never loaded) and ``job.output_bytes`` its whole size in bytes."""
        _storable(job_id)
        query = Job.select()
        if output_tail is not None:
            fields = [f for f in Job._meta.sorted_fields if f is not Job.output]
            query = Job.select(
                *fields,
                *self.storage.output_tail_columns(Job.output, max(output_tail, 1)),
            )
        job = query.where(Job.id == job_id).get_or_none()
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
        # A queuectl before 309449a (schema 1) also wrote the successful run as an
        # attempt row (failed runs always carry an error): not shown twice.
        if job is not None and job.state == "completed" and not (
                runs and runs[-1].number == job.attempts and runs[-1].error is None):
            runs.append(Attempt(job=job.id, number=job.attempts, worker_id=job.worker_id,
                                started_at=job.started_at, finished_at=job.finished_at,
                                exit_code=job.exit_code, error=None, retry_at=None))
        return runs

    def counts(self) -> dict[str, int]:
        """Jobs per state, every state present (zero if none)."""
        counts = dict.fromkeys(STATES, 0)
        query = Job.select(Job.state, peewee.fn.COUNT(Job.id)).group_by(Job.state)
        for state, count in query.tuples():
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

    def each_job(self, state: str | None = None) -> Iterator[tuple]:
        """Every job in ``state`` in creation order, as light named tuples with the
        fields of ``Job`` but its output, read as they are consumed: `list --json`
        on 150,000 jobs needs neither a model object per row nor a list of them."""
        query = self._matching(state, None).order_by(Job.created_at)
        return self.storage.iterate(query.namedtuples())

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

    def lease_offset(self) -> float:
        """Add to a lease or heartbeat (a reading of the storage's lease clock,
        negated when suspect: take ``abs``) to get wall-clock time, for display."""
        return self.storage.now() - self.storage.clock()

    # --- change detection ----------------------------------------------------

    def data_version(self) -> int:
        """A number that changes whenever anyone commits to this database: the
        TUI's cheap "did anything change?" before it counts a million rows."""
        return self.storage.data_version()

    # --- recurring jobs (schedules.py) ---------------------------------------

    @functools.cached_property
    def schedules(self) -> ScheduleBook:
        """This database's schedules (``schedules.ScheduleBook``): add, list, pause,
        resume, remove, run now, and the firing that workers do. Loaded on first
        use: commands that never touch a schedule do not import cron code."""
        from queuectl_tui.schedules import ScheduleBook

        return ScheduleBook(self)


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


def _let_others_write(chunk_started: float) -> None:
    """Pause between the chunks of a bulk action, as long as the last chunk held the
    write lock (at most 50 ms). SQLite's lock waiting is unfair: a waiting process
    sleeps in its busy handler (up to 100 ms at a time) and would miss a window of
    microseconds between two chunks; a pause as long as the chunk gives it an even
    chance at every wake-up, at the price of the bulk action taking about twice
    as long."""
    time.sleep(min(time.monotonic() - chunk_started, 0.05))


def _after_failure(
    attempts: int, max_retries: int, config: Config
) -> tuple[str, float | None]:
    """Dead once the job has failed max_retries times (it always runs once);
    otherwise failed, runnable again after backoff_base ** attempts seconds
    (returned as that delay: the storage adds it to its own clock's now)."""
    if attempts >= max(max_retries, 1):
        return "dead", None
    return "failed", config.backoff_delay(attempts)
