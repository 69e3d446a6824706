"""The worker process: claim, run, record; again at once while work remains.

One worker runs one job at a time. Between jobs, and every second while a job
runs, it does its housekeeping: renew the job's lease and its own heartbeat,
reload the settings, take back jobs whose worker died, fire the schedules that
are due (schedules.py), and notice a stop request. It sleeps only when the
queue has nothing runnable, and never past a schedule's next run.

Signals: the first SIGTERM/SIGINT lets the running job finish, then the worker
exits 0; a second one (or SIGUSR1, which the supervisor uses) stops the job and
puts it back without charging an attempt. Started by a supervisor, the worker
also stops when the supervisor dies, so no orphan keeps running unseen.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import time

from queuectl_tui import registry
from queuectl_tui.config import Config
from queuectl_tui.display import one_line
from queuectl_tui.errors import StoreError
from queuectl_tui.fence import LeaseWatchdog
from queuectl_tui.host import hostname
from queuectl_tui.queue import MAX_RECOVERY_GRACE, Claimed, JobQueue
from queuectl_tui.runner import RunResult, drain_wake, job_environment, run_command
from queuectl_tui.timeutil import human_delta

MAX_HOUSEKEEPING_INTERVAL = 1.0
# The longest wait between tries while the database is unavailable: how late a
# worker may notice that it is back (a PostgreSQL restart or failover of a minute
# would otherwise cost up to 30 s more); a failed try costs next to nothing.
MAX_DB_BACKOFF = 5.0
# A result that cannot be recorded is retried this often (with a lease renewal),
# well within the grace a suspect lease gets.
RECORD_RETRY_SECONDS = 0.2
# While the database stays unavailable, the log says so once, then again only
# this often (not a line per retry), and once more when it is back.
OUTAGE_LOG_INTERVAL = 10.0


class DatabaseGone(StoreError):
    """The database this worker opened is no longer there (SQLite: the file at its
    path was removed or replaced)."""


class _Stopped(Exception):
    """A stop came while the database was unavailable and nothing held needs it."""


def new_worker_id() -> str:
    """host-pid-random: the recovery reads the host back (``JobQueue.recover_expired``)."""
    return f"{hostname()}-{os.getpid()}-{os.urandom(2).hex()}"


class Worker:
    """The loop of one worker process. ``run`` returns the process exit status."""

    def __init__(self, queue: JobQueue, owner: str = "cli", parent_pid: int | None = None):
        self.queue = queue
        self.storage = queue.storage
        # What the database answers when it refuses or is unavailable (locked
        # beyond the busy timeout, read-only, full, gone): the worker backs off.
        self.db_errors = (*self.storage.errors, StoreError)
        self.storage.for_worker()
        self.owner = owner
        self.parent_pid = parent_pid
        # Stops a job whose lease ran out while a database call hangs (fence.py).
        self.watchdog = LeaseWatchdog(lambda job_id: self.log(
            f"job {job_id}: its lease ran out while the database did not answer; "
            "its processes were killed"))
        self.id = new_worker_id()
        self.pid = os.getpid()
        self.signals = 0
        self.stopping = False
        self.jobs_done = 0
        self.jobs_failed = 0
        self.database_id: str | None = None
        self.config = Config()
        self.next_housekeeping = 0.0
        self.next_schedule = 0.0  # monotonic: when the earliest schedule comes due
        self.schedule_problems: set[str] = set()  # said once each
        self.outage_since: float | None = None  # monotonic start of the current outage
        self.outage_logged = 0.0
        self.outage_said: set[str] = set()  # what the log said in the current outage
        self.waiter = self.storage.waiter()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)

    # --- lifecycle -----------------------------------------------------------

    def install_signal_handlers(self) -> None:
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGUSR1, self._on_stop_now)

    def _on_signal(self, signum, frame) -> None:
        self.signals += 1
        self.stopping = True

    def _on_stop_now(self, signum, frame) -> None:
        """The supervisor's second stop: as if a second SIGTERM had arrived."""
        self.signals = max(self.signals + 1, 2)
        self.stopping = True

    def run(self) -> int:
        try:
            self.database_id = self._with_db_retry(self.queue.prepare_worker)
            self._with_db_retry(lambda: self._register())
        except _Stopped:
            self.waiter.close()
            self.log("stopped before it could start (the database is unavailable)")
            return 0
        self.log(f"started (worker id {self.id})")
        job: Claimed | None = None
        try:
            while True:
                if not self.stopping:
                    self._with_db_retry(self.housekeeping_if_due, holding=job is not None)
                if self.stopping:
                    if job is not None:  # claimed just as the stop came: give it back
                        self._with_db_retry(lambda j=job: self.queue.release(j, self.id),
                                            holding=True)
                    break
                if job is None:
                    job = self._with_db_retry(
                        lambda: self.queue.claim(self.id, self.config.lease_seconds)
                    )
                    if job is None:
                        wake_at = min(self.next_housekeeping, self.next_schedule)
                        self.sleep(min(self.config.poll_interval,
                                       max(wake_at - time.monotonic(), 0.0)))
                        continue
                job = self.execute(job)
        except _Stopped:
            pass
        finally:
            try:  # once: a stopping worker does not wait for the database to come back
                self._while_locked(lambda: registry.unregister(self.storage, self.id))
            except self.db_errors as exc:
                self.log(f"could not remove its registration ({self.storage.describe_error(exc)});"
                         " it expires by itself")
            self.waiter.close()
        self.log(f"stopped ({self.jobs_done} done, {self.jobs_failed} failed)")
        return 0

    def _register(self) -> None:
        registry.register(self.storage, self.id, self.owner, self.waiter.name)

    def sleep(self, seconds: float) -> None:
        """Idle until the timeout, a signal, or a wake-up (new work), whichever
        comes first."""
        if self.waiter.wait(seconds, self.wake_r) == "signal":
            drain_wake(self.wake_r)

    # --- housekeeping --------------------------------------------------------

    def housekeeping_if_due(self) -> None:
        if time.monotonic() >= self.next_housekeeping:
            self.housekeeping()
        elif time.monotonic() >= self.next_schedule:
            self.fire_schedules()

    def housekeeping(self) -> None:
        if not self.storage.still_there():
            raise DatabaseGone(f"the database file {self.storage.location} was removed or replaced")
        self.config = self.queue.config()
        self.next_housekeeping = time.monotonic() + min(
            MAX_HOUSEKEEPING_INTERVAL, self.config.lease_seconds / 3
        )
        state = registry.heartbeat(self.storage, self.id, self.jobs_done, self.jobs_failed)
        if state is None:  # swept as dead while we were stalled: come back
            self._register()
        elif state == "stopping" and not self.stopping:
            self.log("stop requested")
            self.stopping = True
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            if not self.stopping:
                self.log("supervisor is gone; stopping")
            self.stopping = True
        for job_id in self.queue.recover_expired():
            self.log(f"job {job_id}: its worker stopped responding; taken back")
        self.storage.maintain()  # SQLite: keep the WAL bounded (issue 9, item 8)
        self.fire_schedules()

    def fire_schedules(self) -> None:
        """Enqueue the jobs of the schedules that are due (the database lets one
        worker of all fire each occurrence: see schedules.py), and wake up when
        the next one is due rather than a poll later. Every housekeeping calls
        this; so does the loop when that moment comes."""
        fired, problems, wait = self.queue.schedules.fire_due()
        for one in fired:
            self.log(one.line())
        for problem in problems:
            if problem not in self.schedule_problems:
                self.schedule_problems.add(problem)
                self.log(problem)
        # A schedule due that could not be fired here (wait <= 0) is tried again at
        # the next housekeeping, not in a loop.
        self.next_schedule = (time.monotonic() + wait if wait is not None and wait > 0
                              else float("inf"))

    # --- one job -------------------------------------------------------------

    def execute(self, job: Claimed) -> Claimed | None:
        """Run one job and record it; returns the next job, claimed in the same
        transaction that recorded this one (None when stopping or idle)."""
        config = self.config
        timeout = job.timeout if job.timeout is not None else config.job_timeout
        self.log(f"job {job.id}: started (attempt {job.attempts}/{max(job.max_retries, 1)})")

        interval = min(MAX_HOUSEKEEPING_INTERVAL, config.lease_seconds / 3)
        # When the lease was last known to be ours (a renewal asked no earlier),
        # and whether the renewals since have failed.
        leased_at = time.monotonic()
        unrenewed = False
        # Self-fencing, only where another host can take the job back while this
        # worker cannot reach the database. On SQLite every writer shares one
        # machine's file: a worker that cannot write cannot be overtaken (the first
        # write after an outage is only a suspect mark, and the grace lets it renew),
        # so its job runs on exactly as before.
        fence = self.storage.kind == "postgres"

        def hang_deadline(asked: float) -> float:
            """When a renewal asked at ``asked`` stops covering the job, for the
            watchdog: past the lease, halfway through the grace that another host
            waits before taking it back. Not earlier: renewals are asked up to two
            check intervals apart, and a busy machine must not lose its jobs."""
            lease = self.config.lease_seconds
            return asked + lease + min(lease / 2, MAX_RECOVERY_GRACE) / 2

        if fence:
            self.watchdog.arm(job.id, job.attempts, self.database_id, hang_deadline(leased_at))

        def check() -> str | None:
            nonlocal leased_at, unrenewed
            if self.signals >= 2:
                return "stopped by a second signal"
            if time.monotonic() >= self.next_housekeeping:
                asked = time.monotonic()
                unrenewed = True
                try:
                    if not self._while_locked(lambda: self.queue.renew_lease(
                            job, self.id, self.config.lease_seconds)):
                        return "job was cancelled or taken back"
                    leased_at, unrenewed = asked, False
                    if fence:
                        self.watchdog.extend(hang_deadline(asked))
                    self._while_locked(self.housekeeping)
                except self.db_errors as exc:
                    self.log_outage(self.storage.describe_error(
                        exc, "database error while renewing the lease"))
                else:
                    self.log_recovery()
            # Self-fencing: past its lease the job may be taken back (after the
            # recovery's grace) and run elsewhere -- on another host, when this
            # one lost its network. Stop it before then (one check early: checks
            # come every `interval`), so it never runs twice at once; the
            # take-back counts the lost run as a failed attempt.
            if fence and unrenewed and \
                    time.monotonic() - leased_at >= self.config.lease_seconds - interval:
                return "its lease could not be renewed in time: database unreachable"
            return None

        try:
            result = run_command(
                job.command,
                timeout=timeout or None,
                output_limit=config.output_limit,
                check=check,
                check_interval=interval,
                wake_fd=self.wake_r,
                env=job_environment(job.id, job.attempts, self.database_id),
                keep_nul=self.queue.storage.text_holds_nul,
            )
        finally:
            if fence:
                self.watchdog.disarm()
        took = human_delta(result.duration)
        if result.aborted:
            if self.signals >= 2:
                put_back = self._with_db_retry(lambda: self.queue.release(job, self.id))
                self.log(f"job {job.id}: stopped and put back" if put_back
                         else f"job {job.id}: stopped")
            else:
                self.log(f"job {job.id}: stopped ({result.aborted})")
            return None
        state, following = self._record(job, result)
        if state is None:  # cancelled, or taken back meanwhile: the run does not count
            outcome = "succeeded" if result.error is None else f"failed ({result.error})"
            self.log(f"job {job.id}: {outcome} in {took}, but was no longer this worker's "
                     "(cancelled or taken back); result not recorded")
        elif result.error is None:
            self.jobs_done += 1
            self.log(f"job {job.id}: completed in {took}")
        else:
            self.jobs_failed += 1
            what = "moved to the DLQ" if state == "dead" else "will retry"
            self.log(f"job {job.id}: failed in {took} ({result.error}); {what}")
        return following

    def _record(self, job: Claimed, result: RunResult) -> tuple[str | None, Claimed | None]:
        """Record the run; while the database refuses (disk full, read-only, locked
        for long), keep the job's lease alive and try again every fraction of a
        second, so the result waiting here is never given up to a recovery and
        the job never runs again. A renewal is a far smaller write than the
        result, so it may get through when the result does not; the recovery's
        grace (see ``JobQueue.recover_expired``) covers the rest. Gives up only
        when the job is no longer ours or a second signal says stop now."""
        def finish() -> tuple[str | None, Claimed | None]:
            return self._while_locked(lambda: self.queue.finish(
                job, self.id, result.exit_code, result.error, result.output, self.config,
                claim_lease=None if self.stopping else self.config.lease_seconds,
            ))

        failures = 0
        while True:
            try:
                recorded = finish()
            except self.db_errors as exc:
                failures += 1
                # This job's first failure is always worth a line (which job waits).
                self.log_outage(f"job {job.id}: cannot record the result yet "
                                f"({self.storage.describe_error(exc)}); "
                                "keeping its lease and retrying", force=failures == 1)
                # Again at once: most often the connection dropped (a killed backend,
                # a restart), and the retry opens a new one; a try whose commit went
                # through unseen is recognized as recorded (see the storage's finish).
                # Not after waiting out a lock: the lease needs renewing first.
                again_at_once = failures == 1 and not self.storage.is_busy(exc)
            else:
                self.log_recovery()
                return recorded
            if again_at_once:
                continue
            try:
                if not self._while_locked(lambda: self.queue.renew_lease(
                        job, self.id, self.config.lease_seconds)):
                    # Taken back or cancelled, or a try recorded it unseen: a last
                    # (fenced) try tells which.
                    recorded = finish()
                    if recorded[0] is None:
                        self.log(f"job {job.id}: taken back or cancelled before its result "
                                 "could be recorded")
                    self.log_recovery()
                    return recorded
            except self.db_errors:
                pass
            if self.signals >= 2:
                self.log(f"job {job.id}: stopped before its result could be recorded")
                return None, None
            self.sleep(min(RECORD_RETRY_SECONDS, self.config.lease_seconds / 6))

    # --- plumbing ------------------------------------------------------------

    def _with_db_retry(self, operation, holding: bool = False):
        """Run a database operation, backing off while the database is unavailable
        (locked beyond the busy timeout, read-only, full, file gone) instead of
        dying or spinning.

        A stop ends the waiting (raises ``_Stopped``): the first signal at once
        unless the worker is ``holding`` a job it must give back, the second in
        any case. The backoff sleep wakes on a signal, so the stop is prompt."""
        delay = 0.1
        tries = 0
        while True:
            try:
                if tries and not self.storage.still_there():
                    self._reopen()
                value = self._while_locked(operation)
            except self.db_errors as exc:
                tries += 1
                if self.signals >= 2 or (self.stopping and not holding):
                    self.log(f"{self.storage.describe_error(exc)}; stopping without it")
                    raise _Stopped from None
                self.log_outage(f"{self.storage.describe_error(exc)}; retrying, backing off "
                                f"up to {human_delta(MAX_DB_BACKOFF)}")
                self.sleep(delay)
                if self.signals >= 2 or (self.stopping and not holding):
                    raise _Stopped from None
                delay = min(delay * 2, MAX_DB_BACKOFF)
            else:
                self.log_recovery()
                return value

    def _while_locked(self, operation):
        """Run ``operation``, retrying at once while another process holds the lock.

        A worker's connection has no busy timeout (``Storage.for_worker``): SQLite's
        own busy handler sleeps whole milliseconds (1, 2, 5, 10 ...) when two
        workers collide, which on a busy queue costs more than the transaction
        itself. Here a collision costs tens of microseconds: a short, jittered
        pause, growing only while the lock stays taken, up to the usual busy
        timeout. ``Storage.is_busy`` says what a collision is (never, on a
        backend whose writers wait for each other by themselves).
        """
        pauses = 0
        started = None
        while True:
            try:
                return operation()
            except Exception as exc:
                if not self.storage.is_busy(exc):
                    raise
                started = started or time.monotonic()
                if time.monotonic() - started > self.storage.busy_timeout:
                    raise
                pauses += 1
                time.sleep(random.uniform(0, min(0.00005 * 2 ** min(pauses, 10), 0.05)))

    def _reopen(self) -> None:
        """The database was deleted or replaced: wait for one to exist (a CLI call
        creates it), then work on that one. Never create it ourselves: a worker
        must not resurrect a queue someone removed on purpose."""
        try:
            queue = JobQueue.open(self.storage.url, create=False)
        except StoreError as exc:
            raise DatabaseGone(str(exc)) from None
        self.queue.close()
        self.queue = queue
        self.storage = queue.storage
        self.storage.for_worker()
        self.database_id = self.queue.prepare_worker()
        self._register()
        self.log(f"reopened {self.storage.location}")

    def log_outage(self, message: str, force: bool = False) -> None:
        """Log a database operation that failed because the database is unavailable
        (a PostgreSQL restart, a killed connection, SQLite locked or full): each
        different message of an outage once (the reason changes: the server shuts
        down, then refuses connections, then starts up), a repeated one at most
        every OUTAGE_LOG_INTERVAL, so retries every fraction of a second do not
        flood the log (``force``: this line regardless)."""
        now = time.monotonic()
        if self.outage_since is None:
            self.outage_since = now
        elif not force and message in self.outage_said \
                and now < self.outage_logged + OUTAGE_LOG_INTERVAL:
            return
        self.outage_said.add(message)
        self.outage_logged = now
        self.log(message)

    def log_recovery(self) -> None:
        """A database operation succeeded: if an outage was logged, say it is over
        and how long it lasted (the line an operator looks for after a restart)."""
        if self.outage_since is not None:
            lasted = human_delta(time.monotonic() - self.outage_since)
            self.outage_since = None
            self.outage_said.clear()
            self.log(f"database available again (unavailable for {lasted})")

    def log(self, message: str) -> None:
        """One line on stderr, in one write: at a thousand jobs a second the usual
        print-and-flush would be a measurable share of the work. Messages quote job
        ids, errors and the last line of a job's output: flattened to one line with
        control characters made visible, so a job cannot retitle, clear or
        overwrite the terminal of a foreground `worker start`."""
        try:
            os.write(2, f"{time.strftime('%H:%M:%S')} worker {self.pid}: "
                        f"{one_line(message)}\n".encode(errors="replace"))
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    """Entry point of a worker process started by the supervisor."""
    parser = argparse.ArgumentParser(prog="queuectl-worker")
    # Absent: $QUEUECTL_DB (how a URL with a password is passed: see
    # supervisor.database_argument).
    parser.add_argument("--db", default=os.environ.get("QUEUECTL_DB"))
    parser.add_argument("--owner", default="cli")
    parser.add_argument("--parent-pid", type=int, default=None)
    args = parser.parse_args(argv)
    if not args.db:
        parser.error("--db or $QUEUECTL_DB is required")
    try:
        queue = JobQueue.open(args.db)
    except StoreError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    worker = Worker(queue, owner=args.owner, parent_pid=args.parent_pid)
    worker.install_signal_handlers()
    if os.geteuid() == 0:
        worker.log("WARNING: running as root: every job runs with root privileges")
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
