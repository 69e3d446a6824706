"""Property tests: whatever a user throws at the CLI, it either works or says no in
one line, with a non-zero exit, no traceback and the database exactly as before.

The commands run in process through the console script's own ``main`` (the one
that turns errors into one line), so hypothesis can try hundreds of inputs.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from queuectl_tui.cli import main
from tests.conftest import Target, db_snapshot

# Both backends for the properties that store odd text and look up odd ids (what
# PostgreSQL could treat differently: NUL, surrogates, collation); the parsing
# ones run on SQLite alone (each example opens the database: ~10x on PostgreSQL).
pytestmark = pytest.mark.backends

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) \
    | st.text()
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)
# Text as a terminal could deliver it: any code point, control characters, and the
# lone surrogates Python makes of argv bytes that are not UTF-8.
nasty_text = st.text(alphabet=st.characters(codec=None), max_size=60) | st.sampled_from(
    ["", " ", "\x00", "\udcff\udcfe", "-", "--", "-h", "../../etc/passwd", "x" * 5000,
     "'; DROP TABLE job; --", "%s%s%n", "\u202e\u200b", "１２３"])
odd_dates = st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()) \
    | st.sampled_from(["2026-02-30T10:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31",
                       "2026-13-01", "T10:00", "2026-01-01T25:00:00", "now", "+inf", ""])
numbers = st.integers(min_value=-(2**70), max_value=2**70) | st.floats() \
    | st.sampled_from([0, -1, 1e308, -0.0, 2**63, 2**63 - 1, True])
job_fields = st.fixed_dictionaries(
    {},
    optional={
        "id": nasty_text | numbers | st.none(),
        "command": nasty_text | numbers | st.none() | st.lists(st.text(), max_size=2),
        "priority": numbers | nasty_text | st.none(),
        "max_retries": numbers | nasty_text,
        "timeout": numbers | nasty_text | st.none(),
        "run_at": odd_dates | numbers | st.none(),
        "delay": numbers | nasty_text,
        "queue": nasty_text,
        "comand": st.text(max_size=5),
    },
)


class Result:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err


def run(db: Target, *args: str, stdin: bytes = b"") -> Result:
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["--db", str(db), *args])
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdin = old_stdin
    return Result(code, out.getvalue(), err.getvalue())


def check_refusal_or_success(db: Target, result: Result, before) -> None:
    assert "Traceback" not in result.err
    assert "internal error" not in result.err, result.err
    if result.code == 0:
        return
    assert result.code in (1, 2), (result.code, result.err)
    lines = result.err.splitlines()
    assert lines and lines[-1].startswith("Error: "), result.err
    assert len([line for line in lines if not line.startswith("Warning:")]) == 1, result.err
    assert db_snapshot(db) == before


@pytest.fixture
def db(backend: Target) -> Target:
    assert run(backend, "enqueue", '{"id":"existing","command":"true"}').code == 0
    return backend


@pytest.mark.backends("sqlite")  # parsing and refusal: no storage difference
@SETTINGS
@given(value=json_values)
def test_enqueue_any_json_value(db, value):
    before = db_snapshot(db)
    try:
        text = json.dumps(value)
    except ValueError:
        return
    result = run(db, "enqueue", text)
    check_refusal_or_success(db, result, before)


@SETTINGS
@given(document=job_fields)
@example(document={"command": "", "run_at": "0001-01-01T00:00:00"})  # year 0 in local time
def test_enqueue_job_objects_with_wrong_types_and_odd_values(db, document):
    before = db_snapshot(db)
    text = json.dumps(document, allow_nan=True)
    result = run(db, "enqueue", text)
    check_refusal_or_success(db, result, before)
    if result.code == 0:
        (job_id,) = result.out.split()
        shown = json.loads(run(db, "show", job_id, "--json").out)
        assert shown["command"] == document["command"]
        if document.get("id") is not None:
            assert shown["id"] == document["id"]
        if document.get("priority") is not None:
            assert shown["priority"] == document["priority"]


@pytest.mark.backends("sqlite")  # parsing and refusal: no storage difference
@SETTINGS
@given(argument=nasty_text)
def test_enqueue_any_argument_text(db, argument):
    before = db_snapshot(db)
    check_refusal_or_success(db, run(db, "enqueue", argument), before)


@pytest.mark.backends("sqlite")  # parsing and refusal: no storage difference
@SETTINGS
@given(data=st.binary(max_size=300) | st.lists(job_fields, min_size=1, max_size=5).map(
    lambda jobs: "\n".join(json.dumps(j) for j in jobs).encode()))
def test_bulk_stdin_any_bytes_or_job_lines(db, data):
    before = db_snapshot(db)
    result = run(db, "enqueue", "-", stdin=data)
    check_refusal_or_success(db, result, before)
    if result.code == 0:
        assert len(result.out.split()) == sum(1 for line in data.splitlines() if line.strip()) \
            or data.lstrip().startswith(b"[")


@pytest.mark.backends("sqlite")  # parsing and refusal: no storage difference
@SETTINGS
@given(key=nasty_text | st.sampled_from(["max-retries", "backoff_base", "POLL_INTERVAL",
                                         "lease-seconds", "output_limit", "job_timeout"]),
       value=nasty_text | numbers.map(str))
def test_config_set_any_key_and_value(db, key, value):
    before = db_snapshot(db)
    result = run(db, "config", "set", key, value)
    check_refusal_or_success(db, result, before)
    if result.code == 0 and not result.out.startswith("Usage:"):  # `-h` asks for help
        stored = run(db, "config", "get", key).out.strip()
        assert math.isclose(float(stored), float(value))


@SETTINGS
@given(command=st.sampled_from(["show", "cancel", "dlq retry"]), job_id=nasty_text)
def test_commands_taking_ids_refuse_unknown_ones_cleanly(db, command, job_id):
    before = db_snapshot(db)
    result = run(db, *command.split(), job_id)
    check_refusal_or_success(db, result, before)
    if job_id != "existing" and result.code == 0 and not result.out.startswith("Usage:"):
        pytest.fail(f"{command} {job_id!r} succeeded on an unknown id")
