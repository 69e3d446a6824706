"""What a user may submit as a job, and the checks that turn it into a ``JobSpec``.

The CLI (JSON argument, file, stdin) and the TUI's new-job form both come
through here, so a job is refused for the same reasons, with the same words,
whichever face it came from.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from queuectl_tui.errors import InvalidInput
from queuectl_tui.timeutil import parse_duration, parse_when

MAX_ID_LENGTH = 128
# The kernel refuses a single argv string of 128 KiB or more (MAX_ARG_STRLEN).
MAX_COMMAND_BYTES = 128 * 1024 - 1
PRIORITY_RANGE = (-1_000_000, 1_000_000)
MAX_RETRIES_RANGE = (0, 1000)
MAX_TIMEOUT = 365 * 86400.0

# Fields our own JSON output carries: accepted and ignored, so that
# `queuectl list --json | jq -c '.[]' | queuectl enqueue -` re-submits jobs.
_OUTPUT_ONLY_FIELDS = frozenset(
    {
        "state", "attempts", "created_at", "updated_at", "started_at", "finished_at",
        "worker_id", "lease_expires_at", "exit_code", "last_error", "output",
        "next_retry_at",
    }
)
_INPUT_FIELDS = ("id", "command", "priority", "max_retries", "timeout", "run_at", "delay",
                 "queue", "cwd", "env", "after", "unique_key")
MAX_ENV_VARIABLES = 1000
MAX_AFTER = 1000


@dataclass(frozen=True)
class JobSpec:
    """A validated job, ready to insert. ``None`` means: use the default."""

    command: str
    id: str | None = None
    priority: int = 0
    max_retries: int | None = None
    timeout: float | None = None
    run_at: float | None = None
    queue: str = "default"
    cwd: str | None = None  # None: the enqueuing face decides (see JobQueue.enqueue)
    env: dict[str, str] | None = None  # variables set for this job only
    after: tuple[str, ...] = ()  # ids of jobs that must complete first
    unique_key: str | None = None


def parse_documents(text: str) -> list[dict]:
    """Split input into job objects: one object, a JSON array, or JSON lines."""
    stripped = text.strip()
    if not stripped:
        raise InvalidInput("no job given: expected a JSON object, an array or JSON lines")
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError as first_error:
        if "\n" not in stripped:
            raise InvalidInput(f"invalid JSON: {first_error}") from None
        return [_parse_line(n, line) for n, line in _numbered_lines(stripped)]
    except RecursionError:
        raise InvalidInput("invalid JSON: nested too deeply") from None
    if isinstance(document, list):
        if not document:
            raise InvalidInput("the JSON array holds no jobs")
        for index, item in enumerate(document):
            if not isinstance(item, dict):
                raise InvalidInput(f"item {index + 1}: a job must be a JSON object")
        return document
    if not isinstance(document, dict):
        raise InvalidInput("a job must be a JSON object such as {\"command\": \"echo hi\"}")
    return [document]


def _numbered_lines(text: str):
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def _parse_line(number: int, line: str) -> dict:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"line {number}: invalid JSON: {exc}") from None
    except RecursionError:
        raise InvalidInput(f"line {number}: invalid JSON: nested too deeply") from None
    if not isinstance(item, dict):
        raise InvalidInput(f"line {number}: a job must be a JSON object")
    return item


def unknown_fields(document: dict) -> list[str]:
    """Fields we neither use nor emit: likely typos, worth a warning."""
    return [k for k in document if k not in _INPUT_FIELDS and k not in _OUTPUT_ONLY_FIELDS]


def spec_from_document(document: dict, now: float) -> JobSpec:
    """Validate one decoded JSON object."""
    if "command" not in document or document["command"] is None:
        raise InvalidInput("missing required field 'command'")
    if document.get("run_at") is not None and document.get("delay") is not None:
        raise InvalidInput("give either run_at or delay, not both")
    run_at = None
    if document.get("run_at") is not None:
        run_at = check_run_at(document["run_at"])
    elif document.get("delay") is not None:
        run_at = now + check_delay(document["delay"])
    return JobSpec(
        command=check_command(document["command"]),
        id=check_id(document["id"]) if document.get("id") is not None else None,
        priority=check_int("priority", document.get("priority", 0), PRIORITY_RANGE),
        max_retries=(
            check_int("max_retries", document["max_retries"], MAX_RETRIES_RANGE)
            if document.get("max_retries") is not None
            else None
        ),
        timeout=check_timeout(document["timeout"]) if document.get("timeout") is not None
        else None,
        run_at=run_at,
        queue=check_queue(document.get("queue", "default")),
        cwd=check_cwd(document["cwd"]) if document.get("cwd") is not None else None,
        env=check_env(document["env"]) if document.get("env") is not None else None,
        after=check_after(document.get("after") or ()),
        unique_key=(check_unique_key(document["unique_key"])
                    if document.get("unique_key") is not None else None),
    )


def check_cwd(value: object) -> str:
    """An absolute folder (a relative one would mean the worker's folder, which is
    never what was meant); whether it exists is checked when the job runs, on
    the worker's machine."""
    cwd = _check_text("cwd", value)
    if not cwd.startswith("/"):
        raise InvalidInput(f"cwd {cwd!r} must be an absolute path")
    return cwd


def check_env(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidInput(f"env must be an object of names to strings, got {_type_name(value)}")
    if len(value) > MAX_ENV_VARIABLES:
        raise InvalidInput(f"env holds more than {MAX_ENV_VARIABLES} variables")
    env = {}
    for name, text in value.items():
        check_env_name(name)
        env[name] = _check_text(f"env {name}", text)
    return env


def check_env_name(name: object) -> str:
    name = _check_text("env name", name)
    if not name or "=" in name or not (name[0].isalpha() or name[0] == "_") or not all(
            ch.isalnum() or ch == "_" for ch in name) or not name.isascii():
        raise InvalidInput(f"env name {name!r} must be letters, digits and _ (not first a digit)")
    return name


def check_after(value: object) -> tuple[str, ...]:
    """Job ids, each once, in the given order."""
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise InvalidInput(f"after must be an array of job ids, got {_type_name(value)}")
    if len(value) > MAX_AFTER:
        raise InvalidInput(f"after lists more than {MAX_AFTER} jobs")
    return tuple(dict.fromkeys(check_id(item if not isinstance(item, str) else item.strip())
                               for item in value))


def check_unique_key(value: object) -> str:
    key = _check_text("unique_key", value)
    if not key or len(key) > 1024:
        raise InvalidInput("unique_key must be 1 to 1024 characters")
    return key


def _check_text(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, got {_type_name(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{field} is not valid Unicode (lone surrogate)") from None
    if "\x00" in value:
        raise InvalidInput(f"{field} must not contain NUL characters")
    return value


def check_command(value: object) -> str:
    command = _check_text("command", value)
    if not command.strip():
        raise InvalidInput("command must not be empty")
    if len(command.encode("utf-8")) > MAX_COMMAND_BYTES:
        raise InvalidInput(f"command is longer than {MAX_COMMAND_BYTES} bytes")
    return command


def check_id(value: object) -> str:
    job_id = _check_text("id", value)
    if not job_id:
        raise InvalidInput("id must not be empty")
    if len(job_id) > MAX_ID_LENGTH:
        raise InvalidInput(f"id is longer than {MAX_ID_LENGTH} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in job_id):
        raise InvalidInput(f"id {job_id!r} must not contain spaces or control characters")
    return job_id


def check_queue(value: object) -> str:
    queue = _check_text("queue", value)
    if not queue or len(queue) > MAX_ID_LENGTH or not queue.isprintable():
        raise InvalidInput(f"queue {queue!r} must be a short printable name")
    return queue


def check_int(field: str, value: object, bounds: tuple[int, int]) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{field} must be a whole number, got {_type_name(value)}")
    number = value
    if isinstance(number, float) and (not math.isfinite(number) or not number.is_integer()):
        raise InvalidInput(f"{field} must be a whole number, got {value!r}")
    number = int(number)
    low, high = bounds
    if not low <= number <= high:
        raise InvalidInput(f"{field} must be between {low} and {high}, got {number}")
    return number


def check_timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"timeout must be a number of seconds, got {_type_name(value)}")
    seconds = parse_duration(value)
    if seconds > MAX_TIMEOUT:
        raise InvalidInput("timeout must be at most one year")
    return seconds


def check_delay(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"delay must be a number of seconds, got {_type_name(value)}")
    return parse_duration(value)


def check_run_at(value: object) -> float:
    if not isinstance(value, str):
        raise InvalidInput(f"run_at must be an ISO 8601 string, got {_type_name(value)}")
    return parse_when(_check_text("run_at", value))


def _type_name(value: object) -> str:
    return {
        bool: "a boolean", int: "a number", float: "a number", str: "a string",
        list: "an array", dict: "an object", type(None): "null",
    }.get(type(value), type(value).__name__)
