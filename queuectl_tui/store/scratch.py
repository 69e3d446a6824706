"""Throwaway PostgreSQL databases: what `queuectl bench --db postgresql://…` measures on.

The bench never touches the user's data, on either backend: on SQLite it works
in a temporary folder, on PostgreSQL in a database of its own on the same
server (`CREATE DATABASE qctl_bench_<random>`), dropped WITH (FORCE) afterwards
so that a worker left behind cannot keep it alive. That needs the CREATEDB
privilege; without it the user gets one line saying so.

It lives in the store because it is SQL; the driver is imported only when a
PostgreSQL URL is given (the SQLite path never loads psycopg).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from queuectl_tui.errors import StoreError
from queuectl_tui.store import is_database_url, location_of


def masked(url: str) -> str:
    """The URL with its password as ***: the store's one masking rule."""
    return location_of(url)


@contextmanager
def scratch_database(server_url: str, label: str = "bench") -> Iterator[str]:
    """Yield the URL of a new, empty database on the server of ``server_url``.

    ``server_url`` names any database the user may connect to (it is only used
    to issue CREATE/DROP DATABASE); the new one is dropped on exit, even after
    an error, with FORCE (PostgreSQL 13+) so open connections do not block it.
    """
    if not is_database_url(server_url):
        raise StoreError(f"not a PostgreSQL URL: {server_url!r}")
    if not label.isidentifier() or not label.isascii():
        raise ValueError(f"bad label {label!r}")
    name = f"qctl_{label.lower()}_{secrets.token_hex(4)}"
    _admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(server_url: str, statement: str) -> None:
    try:
        import psycopg
    except ImportError:
        raise StoreError("PostgreSQL needs the driver: "
                         "pip install 'queuectl-tui[postgres]'") from None
    try:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        password = urlsplit(server_url).password
        if password:
            reason = reason.replace(password, "***")
        raise StoreError(f"{masked(server_url)}: {reason}") from None
