"""queuectl: a background job queue for the terminal.

The package splits into the domain (store, queue, config, worker, supervisor),
which never imports a UI library, and two faces over it: ``cli`` (Click) and
``tui`` (Textual).
"""

import sys as _sys

__version__ = "0.1.0"

# Peewee imports a PostgreSQL driver at its own import if one is installed: with
# psycopg 3 that is ~100 ms, paid by every `queuectl status` on SQLite. So peewee
# is imported here, before any submodule can, with the drivers hidden; the
# PostgreSQL backend (store/postgres.py) imports psycopg itself and hands it to
# peewee. The SQLite path never loads a driver (tests/test_layers.py checks it).
_HIDDEN_DRIVERS = frozenset({"psycopg", "psycopg2", "psycopg2cffi"})


class _HideDrivers:
    """A meta path finder that makes the PostgreSQL drivers look absent."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in _HIDDEN_DRIVERS:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


if "peewee" not in _sys.modules:
    _finder = _HideDrivers()
    _sys.meta_path.insert(0, _finder)
    try:
        import peewee as _peewee  # noqa: F401
    finally:
        _sys.meta_path.remove(_finder)
    del _finder
