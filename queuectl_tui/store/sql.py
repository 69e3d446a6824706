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

from queuectl_tui.store.base import Storage, WorkerRow

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


MODELS = (Job, Attempt, Worker, Setting)


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
