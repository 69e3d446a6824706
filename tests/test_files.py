"""Files on a machine shared with other users: symlinks, modes, other people's files.

Issue 9, items 5 (non-regular files), 11 (logs and the database follow symlinks
and are world-readable) and 12 (another user's database is used silently).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from queuectl_tui import files, store
from queuectl_tui.errors import StoreError
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from tests.conftest import wait_for

NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0,
                             reason="needs root to give files to another user (chown)")


def _one_error_line(result, *fragments: str) -> None:
    assert result.returncode == 1, (result.returncode, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.err
    for fragment in fragments:
        assert fragment in lines[0], result.err


# --- non-regular files -------------------------------------------------------


def test_dev_null_is_refused_before_sqlite_touches_it(cli, tmp_path):
    cli.env["QUEUECTL_DB"] = "/dev/null"
    for leftover in ("/dev/null-journal", "/dev/null-wal", "/dev/null-shm"):
        if os.path.lexists(leftover):
            pytest.skip(f"{leftover} exists already (left by an older queuectl)")
    for args in (["status"], ["enqueue", '{"command": "true"}']):
        _one_error_line(cli(*args, check=False), "/dev/null", "not a regular file")
    assert not any(os.path.lexists(f"/dev/null{s}") for s in ("-journal", "-wal", "-shm"))


def test_a_fifo_is_refused_without_hanging(cli, tmp_path):
    fifo = tmp_path / "queue.fifo"
    os.mkfifo(fifo)
    cli.env["QUEUECTL_DB"] = str(fifo)
    _one_error_line(cli("status", check=False), "not a regular file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["queue.fifo"]


# --- symlinks ----------------------------------------------------------------


def test_dangling_symlink_at_the_database_path_is_refused(cli, tmp_path):
    target = tmp_path / "victim" / "created-by-us.db"
    target.parent.mkdir(mode=0o700)
    link = tmp_path / "queue.db"
    link.symlink_to(target)
    cli.env["QUEUECTL_DB"] = str(link)
    _one_error_line(cli("enqueue", '{"command": "true"}', check=False), "symbolic link")
    assert not target.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == []


def test_symlink_to_an_existing_database_is_followed(cli, tmp_path):
    real = tmp_path / "real.db"
    JobQueue.open(real).close()
    link = tmp_path / "link.db"
    link.symlink_to(real)
    cli.env["QUEUECTL_DB"] = str(link)
    assert cli("enqueue", '{"id": "via-link", "command": "true"}').out.strip() == "via-link"
    queue = JobQueue.open(real)
    assert queue.get("via-link").command == "true"
    queue.close()


def test_log_is_created_private(tmp_path):
    path = tmp_path / "w.log"
    with files.open_log(path) as log:
        log.write(b"hello\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b"hello\n"


def test_log_symlink_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "someone-elses-file"
    target.write_bytes(b"precious\n")
    link = tmp_path / "w.log"
    link.symlink_to(target)
    with pytest.raises(StoreError, match="symbolic link"):
        files.open_log(link)
    dangling = tmp_path / "d.log"
    dangling.symlink_to(tmp_path / "would-be-created")
    with pytest.raises(StoreError, match="symbolic link"):
        files.open_log(dangling)
    assert target.read_bytes() == b"precious\n"
    assert not (tmp_path / "would-be-created").exists()


def test_log_of_an_older_version_becomes_private(tmp_path):
    path = tmp_path / "w.log"
    path.write_bytes(b"old\n")
    path.chmod(0o644)
    with files.open_log(path) as log:
        log.write(b"new\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b"old\nnew\n"


def test_log_rotates_past_the_limit_keeping_one_generation(tmp_path):
    path = tmp_path / "w.log"
    path.write_bytes(b"a" * 100)
    (tmp_path / "w.log.1").write_bytes(b"oldest")
    with files.open_log(path, max_bytes=50) as log:
        log.write(b"fresh\n")
    assert path.read_bytes() == b"fresh\n"
    assert (tmp_path / "w.log.1").read_bytes() == b"a" * 100
    with files.open_log(path, max_bytes=50) as log:  # under the limit: appended
        log.write(b"more\n")
    assert path.read_bytes() == b"fresh\nmore\n"


def test_worker_start_detach_refuses_a_symlinked_log(cli, tmp_path):
    target = tmp_path / "target.txt"
    target.write_bytes(b"do not append here\n")
    link = tmp_path / "workers.log"
    link.symlink_to(target)
    _one_error_line(cli("worker", "start", "--detach", "--log", str(link), check=False),
                    "symbolic link")
    assert target.read_bytes() == b"do not append here\n"
    assert cli.live_workers() == []


def test_worker_start_detach_writes_a_private_log(cli, db_path):
    result = cli("worker", "start", "--detach")
    log = Path(str(db_path) + ".workers.log")
    assert str(log) in result.out
    try:
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
        wait_for(lambda: b"started" in log.read_bytes(), message="the worker's first log line")
    finally:
        cli("worker", "stop", "--timeout", "10")


# --- other users (item 12) ---------------------------------------------------


@as_root
def test_database_owned_by_another_user_is_refused_unchanged(cli, tmp_path, db_path):
    JobQueue.open(db_path).close()
    os.chown(db_path, NOBODY, NOBODY)
    before = db_path.read_bytes()
    _one_error_line(cli("status", check=False), "belongs to another user", "--allow-shared")
    _one_error_line(cli("enqueue", '{"command": "id"}', check=False), "belongs to another user")
    assert db_path.read_bytes() == before
    assert cli("--allow-shared", "status").returncode == 0
    cli.env["QUEUECTL_ALLOW_SHARED"] = "1"
    assert cli("enqueue", '{"id": "shared", "command": "true"}').out.strip() == "shared"


@as_root
def test_folder_owned_by_another_user_is_refused(tmp_path):
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o700)
    os.chown(folder, NOBODY, NOBODY)
    with pytest.raises(StoreError, match=r"folder .* belongs to another user"):
        JobQueue.open(folder / "queue.db")
    assert list(folder.iterdir()) == []  # refused before creating anything


def test_folder_writable_by_everyone_and_not_sticky_is_refused(tmp_path):
    """Without the sticky bit anyone who can write the folder can replace our files."""
    folder = tmp_path / "open"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(StoreError, match=r"writable by every user and not sticky.*--allow-shared"):
        JobQueue.open(folder / "queue.db")
    assert list(folder.iterdir()) == []
    store.open_store(folder / "queue.db", allow_shared=True).close()


# --- sticky folders such as /tmp ---------------------------------------------


def _sticky(tmp_path: Path) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir()
    folder.chmod(0o1777)  # what /tmp is
    return folder


def test_database_in_a_sticky_folder_like_tmp_works(cli, tmp_path):
    """``queuectl --db /tmp/t.db`` works: creating, reopening, a worker running a job."""
    db = _sticky(tmp_path) / "t.db"
    cli.env["QUEUECTL_DB"] = str(db)
    assert "total              0" in cli("status").out
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    cli("enqueue", '{"id": "j", "command": "echo \'\\u001b]0;pwned\\u0007 [b]hi[/b]\'"}')
    cli.start_workers(1)
    wait_for(lambda: cli.state("j") == "completed", message="the job to complete")
    for name in ("t.db-wal", "t.db-shm"):  # while the workers have it open
        path = db.parent / name
        if path.exists():
            info = path.lstat()
            assert info.st_uid == os.geteuid() and not info.st_mode & 0o022, name


def test_sqlite_accepts_the_empty_side_files_we_create(tmp_path):
    """Created from scratch (WAL mode set on the empty file) and reopened with a
    committed job, after the side files were deleted by the last close."""
    db = _sticky(tmp_path) / "q.db"
    queue = JobQueue.open(db)
    queue.enqueue([JobSpec(command="true", id="kept")])
    queue.close()
    assert not (db.parent / "q.db-wal").exists()  # SQLite removed its files on close
    (db.parent / "q.db-shm").touch(mode=0o600)  # one left behind empty, one missing
    queue = JobQueue.open(db)
    try:
        assert queue.get("kept").state == "pending"
        assert queue.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        queue.close()


@as_root
@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_side_file_planted_by_another_user_in_a_sticky_folder_is_refused(cli, tmp_path,
                                                                          suffix):
    folder = _sticky(tmp_path)
    db = folder / "t.db"
    cli.env["QUEUECTL_DB"] = str(db)
    cli("enqueue", '{"id": "j", "command": "true"}')
    before = db.read_bytes()
    planted = folder / ("t.db" + suffix)
    planted.write_bytes(b"")
    planted.chmod(0o666)
    os.chown(planted, NOBODY, NOBODY)
    for args in (["status"], ["enqueue", '{"command": "id"}']):
        _one_error_line(cli(*args, check=False), str(planted), "belongs to another user",
                        "--allow-shared")
    assert db.read_bytes() == before
    assert planted.read_bytes() == b"" and planted.stat().st_uid == NOBODY


def test_side_file_that_is_a_symlink_in_a_sticky_folder_is_refused(cli, tmp_path):
    folder = _sticky(tmp_path)
    db = folder / "t.db"
    cli.env["QUEUECTL_DB"] = str(db)
    cli("status")
    before = db.read_bytes()
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (folder / "t.db-wal").symlink_to(victim)
    _one_error_line(cli("status", check=False), "t.db-wal is a symbolic link", "--allow-shared")
    assert db.read_bytes() == before
    assert victim.read_bytes() == b"precious" and (folder / "t.db-wal").is_symlink()


def test_new_database_beside_a_planted_symlink_is_not_created(tmp_path):
    """A first ``--db /tmp/t.db`` where someone planted ``t.db-shm`` already."""
    folder = _sticky(tmp_path)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (folder / "t.db-shm").symlink_to(victim)
    with pytest.raises(StoreError, match=r"t\.db-shm is a symbolic link"):
        JobQueue.open(folder / "t.db")
    assert victim.read_bytes() == b"precious"


@as_root
def test_sticky_folder_of_another_user_is_still_refused(tmp_path):
    """They own the folder, so the sticky bit does not stop them deleting our files."""
    folder = _sticky(tmp_path)
    os.chown(folder, NOBODY, NOBODY)
    with pytest.raises(StoreError, match=r"folder .* belongs to another user"):
        JobQueue.open(folder / "queue.db")
    assert list(folder.iterdir()) == []


def test_database_file_writable_by_others_is_refused(tmp_path):
    path = tmp_path / "queue.db"
    JobQueue.open(path).close()
    path.chmod(0o666)
    with pytest.raises(StoreError, match="writable by every user"):
        JobQueue.open(path)


@as_root
def test_group_writable_folder_of_a_shared_group_is_refused(tmp_path):
    import grp

    shared = next((g for g in grp.getgrall() if g.gr_gid not in (0,) and g.gr_name != "root"),
                  None)
    if shared is None:
        pytest.skip("no non-root group on this machine")
    folder = tmp_path / "team"
    folder.mkdir()
    os.chown(folder, 0, shared.gr_gid)
    folder.chmod(0o770)
    with pytest.raises(StoreError, match=f"writable by group {shared.gr_name}"):
        JobQueue.open(folder / "queue.db")


@as_root
def test_workers_started_with_allow_shared_can_open_the_shared_database(cli, db_path):
    JobQueue.open(db_path).close()
    os.chown(db_path, NOBODY, NOBODY)
    cli.env["QUEUECTL_ALLOW_SHARED"] = "1"
    cli.start_workers(1)
    cli("enqueue", '{"id": "j", "command": "true"}')
    wait_for(lambda: cli.state("j") == "completed", message="the job to complete")


def test_store_module_does_not_use_the_shared_default_when_allowed_explicitly(tmp_path):
    """``allow_shared=False`` wins over the environment (the CLI sets the variable)."""
    folder = tmp_path / "open"
    folder.mkdir()
    folder.chmod(0o777)
    os.environ[files.ALLOW_SHARED_ENV] = "1"
    try:
        with pytest.raises(StoreError):
            store.open_store(folder / "q.db", allow_shared=False)
        store.open_store(folder / "q.db").close()
    finally:
        del os.environ[files.ALLOW_SHARED_ENV]
