"""The store: where the data is kept, behind one interface (``base.Storage``).

``open_store`` picks the backend from what it is given: a ``postgresql://`` URL
opens PostgreSQL (``postgres.PostgresStorage``, imported only then, so the
SQLite path never loads the driver), anything else is a SQLite file
(``sqlite.SqliteStorage``). The models (``sql``) are shared by both and bound to
the database opened last.
"""

from __future__ import annotations

import os
import sys

from queuectl_tui.errors import StoreError
from queuectl_tui.store.base import Storage
from queuectl_tui.store.sql import (
    DATABASE_ID_KEY,
    FINISHED_STATES,
    LEASE_BOOT_KEY,
    MODELS,
    STATES,
    Attempt,
    Dependency,
    Job,
    QueueControl,
    Schedule,
    Setting,
    Worker,
)

__all__ = [
    "DATABASE_ID_KEY", "FINISHED_STATES", "LEASE_BOOT_KEY", "MODELS", "STATES", "Attempt",
    "Dependency", "Job", "QueueControl", "Schedule", "Setting", "Storage", "StoreError",
    "Worker", "current", "default_path",
    "is_database_url", "location_of", "open_store", "side_file", "url_has_secret",
]

_URL_SCHEMES = ("postgresql://", "postgres://")
POSTGRES_EXTRA_HINT = "PostgreSQL support needs the driver: pip install 'queuectl-tui[postgres]'"

# The storage opened last in this process: the one the models are bound to, and
# the one a face's last-resort error handler describes an error with.
_current: Storage | None = None


def is_database_url(target: str | os.PathLike[str]) -> bool:
    """True for a PostgreSQL URL; anything else names a SQLite file."""
    return isinstance(target, str) and target.lower().startswith(_URL_SCHEMES)


def location_of(target: str | os.PathLike[str]) -> str:
    """Where ``target`` is, for people, without opening it: a URL with its password
    masked (``***``), or a path made absolute. For messages printed before (or
    instead of) opening the store; an open store says the same (``location``)."""
    if is_database_url(target):
        from queuectl_tui.store.postgres import mask_url

        return mask_url(str(target))
    return os.path.abspath(os.path.expanduser(os.fspath(target)))


def url_has_secret(target: str | os.PathLike[str]) -> bool:
    """True for a URL that holds a password (which must not go on a command line,
    where ``ps`` shows it to every user)."""
    if not is_database_url(target):
        return False
    from queuectl_tui.store.postgres import mask_url

    return mask_url(str(target)) != mask_url(str(target), mask=False)


def side_file(target: str | os.PathLike[str], suffix: str) -> str:
    """Where a file that belongs to a database goes (a log): beside a SQLite file
    (``<path><suffix>``); for a PostgreSQL URL, which has no folder, in the
    folder of the per-user database, named after host, port and database."""
    if not is_database_url(target):
        path = os.path.abspath(os.path.expanduser(os.fspath(target)))
        return path + suffix
    from queuectl_tui.store.postgres import parse_url

    parsed = parse_url(str(target))
    name = f"{parsed.host or 'localhost'}-{parsed.port}-{parsed.dbname}"
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    folder = os.path.dirname(default_path())
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return os.path.join(folder, f"postgresql-{name}{suffix}")


def default_path() -> str:
    """The per-user database: ``$QUEUECTL_DB`` is handled by the CLI, not here.

    On Linux the XDG rule is applied directly (what platformdirs computes, and
    a test checks they agree): importing platformdirs costs ~8 ms, a sixth of
    a `queuectl status`.
    """
    if sys.platform == "linux":
        base = os.environ.get("XDG_DATA_HOME", "").strip() or os.path.expanduser(
            "~/.local/share"
        )
        return os.path.join(base, "queuectl", "queuectl.db")
    import platformdirs

    return os.path.join(platformdirs.user_data_dir("queuectl", appauthor=False), "queuectl.db")


def open_store(target: str | os.PathLike[str], allow_shared: bool | None = None,
               create: bool = True) -> Storage:
    """Open the database that ``target`` names: a PostgreSQL URL or a SQLite path.

    ``allow_shared`` (SQLite): see ``sqlite.open_database``. ``create=False``
    (SQLite): refuse to make a file that is not there (a worker reopening a
    removed queue must not resurrect it). Raises ``StoreError`` with a one-line
    message for anything that cannot be opened."""
    global _current
    if is_database_url(target):
        try:
            from queuectl_tui.store.postgres import PostgresStorage
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] == "psycopg":
                raise StoreError(POSTGRES_EXTRA_HINT) from None
            raise
        storage: Storage = PostgresStorage(str(target))
    else:
        from queuectl_tui.store.sqlite import SqliteStorage

        storage = SqliteStorage(target, allow_shared, create)
    _current = storage
    return storage


def current() -> Storage | None:
    """The storage opened last in this process (None before any)."""
    return _current
