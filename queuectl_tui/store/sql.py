"""What both SQL backends share: the Peewee models and the portable storage operations.

The models are the one description of the tables: the admin commands, the
TUI and the domain's listings query through them on either backend. The
worker's hot path does not: building those queries through the ORM costs ~40x
more than executing them (design: "Measured facts"), so each backend keeps
its fixed, per-dialect statements beside its class (``sqlite.py``,
``postgres.py``). What is here runs unchanged on both: settings, the worker
rows, stop requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

import peewee
from peewee import FloatField, ForeignKeyField, IntegerField, Model, TextField

from queuectl_tui.errors import InvalidInput, NotFound
from queuectl_tui.store.base import NewJob, Storage, WorkerRow

STATES = ("pending", "processing", "completed", "failed", "dead", "cancelled")
FINISHED_STATES = ("completed", "dead", "cancelled")

# The database's identity: a random id kept in a reserved ``setting`` row (not a
# config key: ``config`` neither lists nor accepts it), created by the first worker.
# Job processes carry it (QUEUECTL_DB_ID), so a take-back kills only this
# database's strays, never a job with the same id in another queue.
DATABASE_ID_KEY = "database_id"
# The era of the lease clock that leases and heartbeats were read from (another
# reserved ``setting`` row; ``Storage.clock_epoch``): readings of an earlier era
# mean nothing now.
LEASE_BOOT_KEY = "lease_boot"

# The earliest due time of the schedules that fire (schedules.ScheduleBook.fire_due).
SCHEDULE_HORIZON_SQL = "SELECT min(next_at) FROM schedule WHERE paused = 0"

# Models are bound to a database when a store is opened (see ``open_store``).
database_proxy = peewee.DatabaseProxy()


class BaseModel(Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class Job(BaseModel):
    """A shell command to run, and everything known about its runs so far."""

    id = TextField(primary_key=True)
    command = TextField()
    state = TextField(default="pending")
    queue = TextField(default="default")
    priority = IntegerField(default=0)
    attempts = IntegerField(default=0)
    max_retries = IntegerField(default=3)
    timeout = FloatField(null=True)  # null = the job_timeout setting
    run_at = FloatField()  # earliest start: scheduling and backoff both use it
    created_at = FloatField()
    updated_at = FloatField()
    started_at = FloatField(null=True)
    finished_at = FloatField(null=True)
    worker_id = TextField(null=True)
    lease_expires_at = FloatField(null=True)
    exit_code = IntegerField(null=True)
    last_error = TextField(null=True)
    output = TextField(null=True)
    cwd = TextField(null=True)  # where the command runs; null: the worker's folder
    env = TextField(null=True)  # JSON object of variables set for this job only
    waiting = IntegerField(default=0)  # unmet dependencies (claimable only at 0)
    dependents = IntegerField(default=0)  # edges pointing here (the unblock trigger's gate)
    unique_key = TextField(null=True)  # at most one live job per key (job_unique_key)


class Attempt(BaseModel):
    """One execution of a job: the timeline the detail views show."""

    job = ForeignKeyField(Job, backref="attempt_rows", on_delete="CASCADE")
    number = IntegerField()
    worker_id = TextField(null=True)
    started_at = FloatField(null=True)
    finished_at = FloatField()
    exit_code = IntegerField(null=True)
    error = TextField(null=True)
    retry_at = FloatField(null=True)  # when the job was rescheduled to, after a failure
    output = TextField(null=True)  # that run's output (failed runs; the last is on the job)


class Worker(BaseModel):
    """A live worker process, registered so any shell can list and stop it."""

    id = TextField(primary_key=True)
    pid = IntegerField()
    hostname = TextField()
    owner = TextField(default="cli")  # "cli" or "tui:<pid>": who embeds it
    state = TextField(default="running")  # running / stopping
    started_at = FloatField()
    heartbeat_at = FloatField()
    jobs_done = IntegerField(default=0)
    jobs_failed = IntegerField(default=0)
    # The worker's wake-up address (SQLite: its doorbell, see doorbell.py); null: none.
    doorbell = TextField(null=True)


class Setting(BaseModel):
    """One configuration value, stored as text and validated by ``config``."""

    key = TextField(primary_key=True)
    value = TextField()


class Dependency(BaseModel):
    """``job`` starts only after ``after`` completed; ``met`` once it has (see the
    ``job_unblock`` trigger in the migrations, which keeps ``Job.waiting``)."""

    job = ForeignKeyField(Job, backref="dependency_rows", on_delete="CASCADE")
    after_id = TextField()  # not a foreign key: a purged dependency leaves its edge
    met = IntegerField(default=0)

    class Meta:
        primary_key = peewee.CompositeKey("job", "after_id")


class QueueControl(BaseModel):
    """A queue's cap and pause (a row only for queues that have either)."""

    name = TextField(primary_key=True)
    concurrency = IntegerField(default=0)  # 0: no cap
    paused = IntegerField(default=0)


class Schedule(BaseModel):
    """A recurring job: a cron expression and the job it enqueues when it fires."""

    name = TextField(primary_key=True)
    cron = TextField()
    command = TextField()
    queue = TextField(default="default")
    priority = IntegerField(default=0)
    timeout = FloatField(null=True)
    max_retries = IntegerField(null=True)
    tz = TextField(null=True)
    cwd = TextField(null=True)
    env = TextField(null=True)
    paused = IntegerField(default=0)
    next_at = FloatField()
    last_at = FloatField(null=True)
    last_job_id = TextField(null=True)
    created_at = FloatField()
    updated_at = FloatField()


MODELS = (Job, Attempt, Worker, Setting, Dependency, QueueControl, Schedule)


class SqlStorage(Storage):
    """The parts of a SQL backend that port: written once through the models.

    Subclasses open ``self.db``, bind the models to it (``database_proxy``) and
    supply the hot path, the clocks and the error handling of their dialect."""

    def write(self) -> AbstractContextManager:
        return self.db.atomic()

    def snapshot(self) -> AbstractContextManager:
        return self.db.atomic()

    def output_tail_columns(self, column: peewee.Field, tail: int) -> tuple:
        """Standard SQL (PostgreSQL; SQLite only from 3.43, hence its override)."""
        length = peewee.fn.char_length(column)
        text = peewee.Case(None, [(length > tail, peewee.fn.substr(column, length - tail + 1))],
                           column)
        return (text.alias("output"),
                peewee.fn.octet_length(column).coerce(False).alias("output_bytes"))

    # --- enqueue: the rows with a unique key or dependencies ---------------------

    def _insert_each(self, rows: Sequence[NewJob]) -> dict[str, str]:
        """Row by row, in order (a row may wait for an earlier one), inside the
        caller's transaction: the slow path of ``insert_jobs``, written once in
        statements both dialects read. ``run_at`` is already filled in."""
        p = self.db.param
        live = "state IN ('pending', 'failed', 'processing')"
        insert = (
            "INSERT INTO job (id, command, state, queue, priority, attempts, max_retries,"
            " timeout, run_at, created_at, updated_at, cwd, env, unique_key) VALUES"
            f" ({p}, {p}, 'pending', {p}, {p}, 0, {', '.join([p] * 8)})"
            f" ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND {live} DO NOTHING"
        )
        skipped: dict[str, str] = {}
        for row in rows:
            if row.id in row.after:
                raise InvalidInput(f"job {row.id!r} cannot wait for itself")
            if self.db.execute_sql(insert, (*row[:11], row.unique_key)).rowcount == 0:
                skipped[row.id] = self.db.execute_sql(
                    f"SELECT id FROM job WHERE unique_key = {p} AND {live}",
                    (row.unique_key,)).fetchone()[0]
                continue
            if row.after:
                self._add_dependencies(row.id, row.after)
        return skipped

    def _add_dependencies(self, job_id: str, after: Sequence[str]) -> None:
        """Raising ``dependents`` locks each dependency's row: a finish in flight
        commits first (and we read it completed), or waits for our commit (and its
        unblock trigger sees our edges)."""
        p = self.db.param
        marks = ", ".join([p] * len(after))
        found = dict(self.db.execute_sql(
            f"UPDATE job SET dependents = dependents + 1 WHERE id IN ({marks})"
            " RETURNING id, state", tuple(after)).fetchall())
        missing = [dep for dep in after if dep not in found]
        if missing:
            raise NotFound(f"dependency {missing[0]!r} does not exist")
        unmet = sum(1 for dep in after if found[dep] != "completed")
        if unmet:
            self.db.execute_sql(f"UPDATE job SET waiting = {p} WHERE id = {p}",
                                (unmet, job_id))
        for dep in after:
            self.db.execute_sql(
                f"INSERT INTO dependency (job_id, after_id, met) VALUES ({p}, {p}, {p})",
                (job_id, dep, int(found[dep] == "completed")))

    # --- settings ------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        return dict(Setting.select(Setting.key, Setting.value).tuples())

    def setting(self, key: str) -> str | None:
        return Setting.select(Setting.value).where(Setting.key == key).scalar()

    def set_setting(self, key: str, value: str) -> None:
        (Setting.insert(key=key, value=value)
         .on_conflict(conflict_target=[Setting.key], update={Setting.value: value})
         .execute())

    def add_setting(self, key: str, value: str) -> None:
        Setting.insert(key=key, value=value).on_conflict_ignore().execute()

    # --- schedules -----------------------------------------------------------

    def schedule_horizon(self) -> tuple[float | None, float]:
        """Fixed SQL on the storage's own connection (a process may hold several
        stores; the models follow the one opened last)."""
        row = self.db.execute_sql(SCHEDULE_HORIZON_SQL).fetchone()
        return row[0], self.now()

    # --- workers -------------------------------------------------------------

    def register_worker(self, row: WorkerRow) -> None:
        values = {
            Worker.id: row.id, Worker.pid: row.pid, Worker.hostname: row.hostname,
            Worker.owner: row.owner, Worker.state: row.state,
            Worker.started_at: row.started_at, Worker.heartbeat_at: row.heartbeat_at,
            Worker.jobs_done: row.jobs_done, Worker.jobs_failed: row.jobs_failed,
            Worker.doorbell: row.wakeup,
        }
        update = {field: value for field, value in values.items() if field is not Worker.id}
        (Worker.insert(values)
         .on_conflict(conflict_target=[Worker.id], update=update)
         .execute())

    def workers(self) -> list[WorkerRow]:
        query = Worker.select(
            Worker.id, Worker.pid, Worker.hostname, Worker.owner, Worker.state,
            Worker.started_at, Worker.heartbeat_at, Worker.jobs_done, Worker.jobs_failed,
            Worker.doorbell,
        ).order_by(Worker.started_at, Worker.id)
        return [WorkerRow(*row) for row in query.tuples()]

    def delete_workers(self, ids: Sequence[str] | None) -> None:
        query = Worker.delete()
        if ids is not None:
            if not ids:
                return
            query = query.where(Worker.id.in_(list(ids)))
        query.execute()

    def request_stop(self, worker_ids: Sequence[str] | None = None,
                     host: str | None = None) -> int:
        query = Worker.update(state="stopping").where(Worker.state == "running")
        if worker_ids is not None:
            query = query.where(Worker.id.in_(list(worker_ids)))
        if host is not None:
            query = query.where(Worker.hostname == host)
        return query.execute()
