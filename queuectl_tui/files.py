"""Opening the files queuectl writes, safely on a machine shared with other users.

Every file queuectl creates (the database, the worker logs) is created with
``O_NOFOLLOW`` and mode 0600: a symbolic link planted at the path by someone
else is refused instead of followed, and nothing we write is readable by other
users. Before a database is used, ``check_private`` refuses one that another
user could change (their file, or a folder they can write to), because such a
user could then run commands as whoever runs the workers. A sticky folder such
as ``/tmp`` is allowed: nobody else can replace our files there, and
``claim_sidecars`` makes SQLite's ``-wal``/``-shm`` ours before SQLite opens
them. ``--allow-shared`` (``QUEUECTL_ALLOW_SHARED=1``) lifts that check for
deliberately shared queues.

No SQL, no Click: the store and the faces call these and turn ``StoreError``
into their own idiom.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import stat
from typing import BinaryIO

from queuectl_tui.errors import StoreError

MAX_LOG_BYTES = 20 * 1024 * 1024
ALLOW_SHARED_ENV = "QUEUECTL_ALLOW_SHARED"
SHARED_HINT = "; use --allow-shared (QUEUECTL_ALLOW_SHARED=1) if it is meant to be shared"

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def allow_shared_from_env() -> bool:
    """``QUEUECTL_ALLOW_SHARED=1`` (set by ``--allow-shared`` for the processes it starts)."""
    return os.environ.get(ALLOW_SHARED_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def open_log(path: str | os.PathLike[str], max_bytes: int = MAX_LOG_BYTES) -> BinaryIO:
    """Open a log for appending: created 0600, never through a symlink, rotated
    (one ``.1`` generation, like logrotate) once it passes ``max_bytes``.

    Raises ``StoreError`` for a symlink, a non-regular file, or a log that
    belongs to another user: appending to it would write our output into a
    file someone else chose.
    """
    path = os.fspath(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISLNK(info.st_mode):
        raise StoreError(f"log {path} is a symbolic link; refusing to follow it")
    if info is not None and stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
        try:  # rename() moves the name itself, never a link's target
            os.replace(path, path + ".1")
        except OSError as exc:
            raise StoreError(f"cannot rotate log {path}: {exc.strerror}") from None
    try:
        # O_NONBLOCK: a FIFO planted at the path fails at once instead of hanging.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _CLOEXEC
                     | os.O_NONBLOCK, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StoreError(f"log {path} is a symbolic link; refusing to follow it") from None
        raise StoreError(f"cannot open log {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StoreError(f"log {path} is not a regular file")
        if info.st_uid != os.geteuid():
            raise StoreError(f"log {path} belongs to another user (uid {info.st_uid})")
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.fchmod(fd, 0o600)  # a log made by an older version, readable by all
        os.set_blocking(fd, True)
        return os.fdopen(fd, "ab")
    except BaseException:
        os.close(fd)
        raise


def create_private_file(path: str) -> bool:
    """Create ``path`` empty with mode 0600 (and missing parents 0700); False if it
    exists. Never follows a symlink: a dangling one is refused by the caller."""
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | _NOFOLLOW | _CLOEXEC, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def resolve_database_path(path: str) -> str:
    """The real file behind ``path``: a symlink is followed only to an existing
    regular file; a dangling one is refused (SQLite would create its target)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return path
    if not stat.S_ISLNK(info.st_mode):
        return path
    target = os.path.realpath(path)
    if not os.path.exists(target):
        raise StoreError(f"{path} is a symbolic link to a missing file ({target});"
                         " refusing to create it")
    return target


def check_regular(path: str) -> None:
    """Refuse anything but a regular file (``/dev/null``, a FIFO, a folder) before
    SQLite opens it: SQLite would put its journal beside it (``/dev/null-journal``)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        raise StoreError(f"{path} is a directory, not a database file")
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{path} is not a regular file; a database must be one")


def check_private(path: str, allow_shared: bool) -> bool:
    """Refuse a database that another user could change, unless ``allow_shared``.

    Another user who can write the file, or its folder (where SQLite keeps the
    ``-wal`` and ``-shm`` files, and where the file can be replaced), can enqueue
    commands that our workers then run as us. Root is not "another user" for a
    folder it owns; but a root process treats a file owned by anyone else as
    that user's database, so root never runs another user's jobs by accident.

    A *sticky* folder (``/tmp``, mode 1777) owned by root or us is the exception:
    there nobody else can delete, rename or replace our files, so the only
    danger left is a sidecar planted before SQLite creates it. Returns True in
    that case: the caller must then ``claim_sidecars`` before SQLite opens the
    database (and check them again once it has).
    """
    if allow_shared:
        return False
    me = os.geteuid()
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    if info is not None:
        if info.st_uid != me:
            raise StoreError(f"{path} belongs to another user ({_user(info.st_uid)})"
                             + SHARED_HINT)
        who = _other_writers(info)
        if who:
            raise StoreError(f"{path} is writable by {who}" + SHARED_HINT)
    folder = os.path.dirname(path) or "."
    try:
        info = os.stat(folder)
    except OSError:
        return False
    if info.st_uid not in (me, 0):
        raise StoreError(f"the folder {folder} belongs to another user ({_user(info.st_uid)})"
                         + SHARED_HINT)
    who = _other_writers(info)
    if who is None:
        return False
    if info.st_mode & stat.S_ISVTX:
        return True  # sticky: others cannot touch our files, only plant new names
    raise StoreError(f"the folder {folder} is writable by {who} and not sticky" + SHARED_HINT)


SIDECARS = ("-wal", "-shm")  # created by us, empty, before SQLite would create them


def claim_sidecars(path: str, create: bool = True) -> None:
    """Make sure the database and SQLite's files beside it are ours, in a sticky
    folder other users can write to (see ``check_private``).

    ``-wal`` and ``-shm`` are created empty, 0600, never through a symlink, when
    missing (SQLite accepts empty ones and fills them); present ones, and a
    ``-journal`` if there is one, must be regular files of ours that no one
    else can write. Otherwise another user could have planted one that SQLite
    would read pages or locks from: refused, nothing opened or changed. With
    ``create=False`` (once SQLite has the database open) only checks: a
    sidecar swapped in between our claim and SQLite's open is caught then.
    """
    _check_own(path, path)
    for suffix in (*SIDECARS, "-journal"):
        name = path + suffix
        if create and suffix in SIDECARS:
            try:
                fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | _NOFOLLOW
                             | _CLOEXEC, 0o600)
            except FileExistsError:
                pass  # someone's: checked below
            except OSError as exc:
                if exc.errno == errno.ELOOP:  # a symlink at the name on some systems
                    raise StoreError(f"{name} is a symbolic link; refusing to open {path}"
                                     " beside it" + SHARED_HINT) from None
                raise StoreError(f"cannot create {name}: {exc.strerror}") from None
            else:
                os.close(fd)
                continue
        _check_own(name, path)


def _check_own(name: str, database: str) -> None:
    """Refuse ``name`` unless missing or a regular file of ours no one else can write."""
    try:
        info = os.lstat(name)
    except FileNotFoundError:
        return
    beside = "" if name == database else f"; refusing to open {database} beside it"
    if stat.S_ISLNK(info.st_mode):
        raise StoreError(f"{name} is a symbolic link{beside}" + SHARED_HINT)
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{name} is not a regular file{beside}" + SHARED_HINT)
    if info.st_uid != os.geteuid():
        raise StoreError(f"{name} belongs to another user ({_user(info.st_uid)}){beside}"
                         + SHARED_HINT)
    who = _other_writers(info)
    if who:
        raise StoreError(f"{name} is writable by {who}{beside}" + SHARED_HINT)


def _other_writers(info: os.stat_result) -> str | None:
    """Who besides the owner may write: "every user", "group NAME", or None. A
    user-private group (named like its only member, the owner) does not count."""
    mode = stat.S_IMODE(info.st_mode)
    if mode & stat.S_IWOTH:
        return "every user"
    if mode & stat.S_IWGRP and not _private_group(info.st_gid, info.st_uid):
        try:
            return f"group {grp.getgrgid(info.st_gid).gr_name}"
        except KeyError:
            return f"group {info.st_gid}"
    return None


def _private_group(gid: int, uid: int) -> bool:
    try:
        group = grp.getgrgid(gid)
        user = pwd.getpwuid(uid)
    except KeyError:
        return False
    return (group.gr_name == user.pw_name and user.pw_gid == gid
            and set(group.gr_mem) <= {user.pw_name})


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
