"""Job text on the CLI: shown, never obeyed.

A job's command, error and output may hold terminal control sequences (here the
one that retitles a terminal and the one that clears it). On a terminal the CLI
shows them as symbols (ESC as ␛, BEL as ␇); into a pipe `show` stays byte-exact
and `--json` is exact JSON. The jobs are run by a real worker; the terminal is a
real pseudo-terminal.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

import pytest
from click.testing import CliRunner

from queuectl_tui.cli.output import print_table, width
from tests.conftest import FAST_CONFIG, Cli, Target, wait_for

pytestmark = pytest.mark.backends

HOSTILE = "\033]0;pwned\007\033[2J"  # retitle the terminal, clear the screen
HOSTILE_SHOWN = "␛]0;pwned␇␛[2J"
MARKUP_ID = "job-[/b]-ünï"
MARKUP_COMMAND = 'echo "[/INFO] done [b]✓ 日本語"'
SEQ = 200_000  # `seq` lines: about 1.3 MB of output
# Our own styling on a terminal (bold, colours) is SGR only: ESC [ ... m.
SGR = re.compile(rb"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def ran(module_backend: Target) -> Cli:
    """A database whose hostile jobs a real worker has run to the end."""
    runner = Cli(module_backend)
    try:
        for key, value in {**FAST_CONFIG, "output_limit": "4000000"}.items():
            runner("config", "set", key, value)
        jobs = [
            {"id": "esc", "command": "printf '\\033]0;pwned\\007\\033[2J'; echo; echo after"},
            {"id": "esc-dead", "command": "printf '\\033]0;pwned\\007\\033[2J' >&2; exit 3",
             "max_retries": 1},
            # ESC and BEL in the command itself, not only in what it prints.
            {"id": "esc-command", "command": f"true '{HOSTILE}'"},
            {"id": MARKUP_ID, "command": MARKUP_COMMAND},
            {"id": "big", "command": f"seq 1 {SEQ}"},
        ]
        runner("enqueue", "-", input="\n".join(json.dumps(job) for job in jobs))
        runner.start_workers(1)
        wait_for(lambda: all(runner.state(job["id"]) in ("completed", "dead") for job in jobs),
                 timeout=30, message="the hostile jobs to finish")
        runner.cleanup()
        yield runner
    finally:
        runner.cleanup()


def in_terminal(cli: Cli, *args: str, columns: int = 160) -> bytes:
    """Run `queuectl ARGS` with stdout on a pseudo-terminal; what the terminal got."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in cli.env.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen([sys.executable, "-m", "queuectl_tui", *args], env=env,
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, "no output from queuectl for 30 s"
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        proc.wait(timeout=30)
        stderr = proc.stderr.read().decode()
        proc.stderr.close()
    assert proc.returncode == 0, stderr
    return b"".join(chunks).replace(b"\r\n", b"\n")


def unstyled(screen: bytes) -> str:
    """The terminal's text without our own colours; any ESC left came from a job."""
    return SGR.sub(b"", screen).decode()


def test_show_on_a_terminal_makes_control_characters_visible(ran):
    screen = in_terminal(ran, "show", "esc")
    text = unstyled(screen)
    assert "\x1b" not in text and "\x07" not in text
    assert f"{HOSTILE_SHOWN}\nafter" in text  # the output, shown
    # The same for the command and the last error of a dead job.
    dead = unstyled(in_terminal(ran, "show", "esc-dead"))
    assert "\x1b" not in dead and "\x07" not in dead
    assert f"last error  exit code 3: {HOSTILE_SHOWN}" in dead
    command = unstyled(in_terminal(ran, "show", "esc-command"))
    assert f"command     true '{HOSTILE_SHOWN}'" in command


def test_show_into_a_pipe_is_byte_exact(ran):
    output = ran.job("esc")["output"]
    assert output == f"{HOSTILE}\nafter\n"
    piped = ran("show", "esc").stdout
    assert piped.endswith(f"Output:\n{HOSTILE}\nafter\n".encode())
    assert ran("show", "esc-command").stdout.startswith(
        f"id          esc-command\ncommand     true '{HOSTILE}'\n".encode())
    # our own colours stay out of a pipe: only the job's text has escape bytes
    assert b"\nstate       completed\n" in piped


def test_show_json_is_exact_json_with_escapes(ran):
    raw = ran("show", "esc", "--json").stdout
    assert b"\x1b" not in raw and b"\x07" not in raw  # JSON escapes them: \u001b
    assert "\\u001b]0;pwned\\u0007\\u001b[2J" in raw.decode()
    assert json.loads(raw)["output"] == f"{HOSTILE}\nafter\n"
    on_terminal = in_terminal(ran, "show", "esc", "--json")
    assert json.loads(on_terminal)["output"] == f"{HOSTILE}\nafter\n"


@pytest.mark.parametrize("args", [("list",), ("dlq", "list"), ("list", "--limit", "0")])
def test_tables_show_job_text_as_symbols_on_a_terminal_and_in_a_pipe(ran, args):
    text = unstyled(in_terminal(ran, *args))
    assert "\x1b" not in text and "\x07" not in text
    assert "␛]0;pwned␇␛[2J" in text
    piped = ran(*args).stdout
    assert b"\x1b" not in piped and b"\x07" not in piped
    assert "␛]0;pwned␇␛[2J" in piped.decode()


def test_markup_and_unicode_are_printed_literally(ran):
    listing = unstyled(in_terminal(ran, "list"))
    assert MARKUP_ID in listing and MARKUP_COMMAND in listing
    detail = unstyled(in_terminal(ran, "show", MARKUP_ID))
    assert f"command     {MARKUP_COMMAND}" in detail
    assert "[/INFO] done [b]✓ 日本語" in detail
    assert json.loads(ran("show", MARKUP_ID, "--json").stdout)["id"] == MARKUP_ID


def test_every_state_is_coloured_in_list_and_status(ran):
    """Item 14: the colour was applied to the padded text, so only states as wide as
    the widest one matched a colour."""
    listing = in_terminal(ran, "list").decode()
    assert "\x1b[32mcompleted\x1b[0m" in listing
    assert "\x1b[31mdead\x1b[0m" in listing
    status = in_terminal(ran, "status").decode()
    for state, colour in (("pending", 36), ("processing", 33), ("completed", 32),
                          ("failed", 35), ("dead", 31), ("cancelled", 90)):
        assert f"\x1b[{colour}m{state}\x1b[0m" in status, state
    # Into a pipe: no colour at all.
    assert b"\x1b" not in ran("list").stdout


def test_show_on_a_terminal_prints_the_tail_of_a_long_output(ran):
    text = unstyled(in_terminal(ran, "show", "big"))
    everything = "".join(f"{n}\n" for n in range(1, SEQ + 1))
    earlier = len("".join(f"{n}\n" for n in range(1, SEQ - 200 + 1)))
    _, _, shown = text.partition("Output:\n")
    assert shown.startswith(f"… {earlier:,} earlier bytes not shown; --full shows all\n"
                            f"{SEQ - 199}\n")
    assert shown.endswith(f"\n{SEQ}\n")
    assert shown.count("\n") == 201
    full = unstyled(in_terminal(ran, "show", "big", "--full"))
    assert full.partition("Output:\n")[2] == everything
    # A pipe and --json get everything, exactly.
    assert ran("show", "big").stdout.decode().partition("Output:\n")[2] == everything
    assert ran.job("big")["output"] == everything


def test_a_short_output_is_shown_whole_without_a_note(ran):
    text = unstyled(in_terminal(ran, "show", MARKUP_ID))
    assert "earlier bytes" not in text
    assert text.endswith("Output:\n[/INFO] done [b]✓ 日本語\n")


def test_table_columns_line_up_with_wide_characters(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    with runner.isolation() as (out, _, _):
        print_table(["A", "B"], [["日本語", "x"], ["abc", "y"], ["e\u0301", "z"]])
    lines = out.getvalue().decode().splitlines()
    starts = {width(line[: line.index(mark)]) for line, mark in zip(lines[1:], "xyz", strict=True)}
    assert starts == {8}  # the widest A (日本語: 6 columns) + 2 spaces
