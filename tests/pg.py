"""PostgreSQL for the tests: which server, and a fresh database per test module.

The server is ``$QUEUECTL_TEST_PG`` (a URL of any database on it, e.g.
``postgresql://postgres@127.0.0.1:5432/test``), else the project machines' default
``postgresql://postgres@127.0.0.1:5432/test`` if a server answers there, else none:
the tests that need one skip with the reason below (a failure in CI, where
``QUEUECTL_STRICT_SKIPS=1``). Each module gets its own database with a random
suffix, dropped WITH (FORCE) afterwards, so parallel runs never share one.
"""

from __future__ import annotations

import functools
import os
import secrets
import urllib.parse

import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
SKIP_REASON = "no PostgreSQL server: set QUEUECTL_TEST_PG or start one on 127.0.0.1:5432"


@functools.cache
def pg_url() -> str | None:
    """The server's base URL, or None when there is none to test against."""
    given = os.environ.get("QUEUECTL_TEST_PG", "").strip()
    if given:
        return given
    try:
        import psycopg
    except ImportError:
        return None
    try:
        psycopg.connect(DEFAULT_URL, connect_timeout=2).close()
    except psycopg.Error:
        return None
    return DEFAULT_URL


def _with_dbname(url: str, dbname: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))


def _admin(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=10)


def fresh_database(prefix: str) -> str:
    """CREATE DATABASE qctl_<prefix>_<random> on the test server; returns its URL."""
    base = pg_url()
    if base is None:
        pytest.skip(SKIP_REASON)
    name = f"qctl_{prefix}_{secrets.token_hex(4)}".lower()
    with _admin(base) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return _with_dbname(base, name)


def drop_database(url: str) -> None:
    """DROP DATABASE ... WITH (FORCE): connections still open to it are ended."""
    base = pg_url()
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.lstrip("/"))
    with _admin(base or url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def pg_database(request):
    """A fresh, empty database for this test module (its URL); skips without a server."""
    if pg_url() is None:
        pytest.skip(SKIP_REASON)
    prefix = "".join(c for c in request.module.__name__.rsplit(".", 1)[-1] if c.isalnum())
    url = fresh_database(prefix[:20])
    yield url
    drop_database(url)
