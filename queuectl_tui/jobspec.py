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
                 "queue")


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
    )


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
