"""Frozen schema migrations, one module per backend (``sqlite``, ``postgres``).

Each version's DDL is written out as it was when that version shipped, never
derived from today's Peewee models: a migration that called ``create_tables``
with the current models would create a new database with columns that a later
step then tries to add again (the bug of the old ``_migrate_to_1``). A new
version appends a step; an old step is never edited.

A new database is created step by step from version 1 to the current one (the
same path an old database takes, so the upgrade path is what every new database
exercises). Version numbers are per backend.
"""

from __future__ import annotations


def newer_schema(where: str, version: int, known: int) -> str:
    """The one-line refusal for a database written by a newer queuectl."""
    return (f"{where} was written by a newer queuectl (schema {version}, this one "
            f"knows {known}); upgrade queuectl")
