"""One job: every field, the attempt timeline, last error and output; live.

Everything from the job (id, command, worker, error, output) is shown
literally, with control characters made visible: a job that prints terminal
escape sequences cannot retitle or clear the user's terminal through here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from queuectl_tui.errors import NotFound
from queuectl_tui.queue import JobQueue
from queuectl_tui.timeutil import human_delta, relative, to_local
from queuectl_tui.tui.messages import CancelJobs, DeleteJobs, RetryJobs, ShowPane
from queuectl_tui.tui.offers import offered
from queuectl_tui.tui.screens.confirm import ConfirmScreen
from queuectl_tui.tui.widgets.footer import KeysFooter
from queuectl_tui.tui.widgets.format import literal, literal_block, state_cell, when

REFRESH_SECONDS = 1.0
# The attempts table's columns but the result (#, started, took, exit, backoff),
# with padding and the screen's margins.
ATTEMPT_COLUMNS_WIDTH = 3 + 21 + 8 + 6 + 20 + 6


@dataclass
class Detail:
    job: object | None
    attempts: list


class JobDetailScreen(Screen):
    """Reads the job itself (in a thread worker, every second); changes go to the
    app as messages."""

    BINDINGS = [
        Binding("escape,q", "back", "Back", id="detail.back", tooltip="Back to the panes"),
        Binding("r", "retry", "Retry", id="detail.retry", tooltip="Retry this dead job"),
        Binding("c", "cancel_job", "Cancel", id="detail.cancel",
                tooltip="Cancel this job (asks first if it is running)"),
        Binding("x", "delete", "Delete", id="detail.delete",
                tooltip="Delete this job (asks first)"),
        Binding("y", "copy_id", "Copy id", id="detail.copy",
                tooltip="Copy the job's id to the clipboard"),
        # The panes are hidden behind this screen: a digit closes it and switches
        # (not shown in the footer, which stays about this job).
        Binding("1", "show_pane('jobs')", "Jobs", show=False, id="detail.jobs",
                tooltip="Close the detail; show the Jobs pane"),
        Binding("2", "show_pane('dlq')", "DLQ", show=False, id="detail.dlq",
                tooltip="Close the detail; show the DLQ"),
        Binding("3", "show_pane('workers')", "Workers", show=False, id="detail.workers",
                tooltip="Close the detail; show the Workers pane"),
        Binding("4", "show_pane('config')", "Config", show=False, id="detail.config",
                tooltip="Close the detail; show the Config pane"),
    ]

    class Loaded(Message):
        def __init__(self, detail: Detail):
            super().__init__()
            self.detail = detail

    def __init__(self, job_id: str, queue: JobQueue, clock: Callable[[], float]):
        super().__init__()
        self.job_id = job_id
        self.queue = queue
        self.clock = clock
        self.state: str | None = None
        self._attempt_rows: list[tuple] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(id="detail-fields")
            yield Static("[b]Attempts[/b]", classes="section")
            yield DataTable(id="detail-attempts", cursor_type="row", zebra_stripes=True)
            yield Static("[b]Last error[/b]", classes="section")
            yield Static(id="detail-error")
            yield Static("[b]Output[/b]", classes="section")
            yield Static(id="detail-output")
        yield KeysFooter()

    def on_mount(self) -> None:
        table = self.query_one("#detail-attempts", DataTable)
        table.add_columns("#", "Started", "Took", "Exit", "Result", "Backoff")
        self.load()

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def load(self) -> None:
        queue = self.queue
        try:
            job = queue.get(self.job_id)
            detail = Detail(job, queue.attempts(self.job_id, job))
        except NotFound:
            detail = Detail(None, [])
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(detail))

    def on_job_detail_screen_loaded(self, message: Loaded) -> None:
        self.set_timer(REFRESH_SECONDS, self.load)
        job = message.detail.job
        if job is None:
            self.query_one("#detail-fields", Static).update(
                Text.assemble("Job ", literal(self.job_id), " no longer exists.",
                              style="bold red"))
            return
        self.state = job.state
        now = self.clock()
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        state = state_cell(job.state)
        if job.state == "failed":
            state.append(f"  (retries {relative(job.run_at, now)})", style="dim")
        elif job.state == "pending" and job.run_at > now:
            state.append(f"  (scheduled, {relative(job.run_at, now)})", style="dim")
        elif job.state == "processing" and job.started_at is not None:
            state.append(f"  ({when(job.state, job.run_at, job.started_at, now)})",
                         style="dim")
        timeout = ("config default" if job.timeout is None
                   else "none" if job.timeout == 0 else human_delta(job.timeout))
        for name, value in (
            ("Job", literal(job.id, style="bold")),
            ("Command", literal_block(job.command)),
            ("State", state),
            ("Priority", str(job.priority)),
            ("Attempts", f"{job.attempts} of {max(job.max_retries, 1)}"),
            ("Timeout", timeout),
            ("Run at", to_local(job.run_at)),
            ("Created", f"{to_local(job.created_at)}  ({relative(job.created_at, now)})"),
            ("Updated", f"{to_local(job.updated_at)}  ({relative(job.updated_at, now)})"),
            ("Worker", literal(job.worker_id or "-")),
            ("Exit code", "-" if job.exit_code is None else str(job.exit_code)),
        ):
            grid.add_row(name, value if isinstance(value, Text) else Text(value))
        self.query_one("#detail-fields", Static).update(grid)
        table = self.query_one("#detail-attempts", DataTable)
        # The result gets what the other columns leave: no sideways scrolling.
        room = max(self.size.width - ATTEMPT_COLUMNS_WIDTH, 16)
        rows = [
            (str(a.number), to_local(a.started_at),
             human_delta(a.finished_at - a.started_at) if a.started_at else "-",
             "-" if a.exit_code is None else str(a.exit_code),
             literal(a.error or "ok", room, style="red" if a.error else "green"),
             f"retry after {human_delta(a.retry_at - a.finished_at)}" if a.retry_at else "")
            for a in message.detail.attempts
        ]
        if rows != self._attempt_rows:  # redraw only when the timeline changed
            self._attempt_rows = rows
            table.clear()
            table.add_rows(rows)
        self.query_one("#detail-error", Static).update(
            literal_block(job.last_error or "-", style="red" if job.last_error else "dim"))
        output = job.output or ""
        self.query_one("#detail-output", Static).update(
            literal_block(output.rstrip("\n")) if output
            else Text("No output captured.", style="dim"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return offered(self, action)  # read-only / browser tab: see tui/offers.py

    def action_back(self) -> None:
        self.dismiss()

    def action_show_pane(self, pane: str) -> None:
        self.post_message(ShowPane(pane))

    def action_copy_id(self) -> None:
        self.app.copy_to_clipboard(self.job_id)
        self.notify(f"Copied {self.job_id}", markup=False)

    def _close(self) -> None:
        if self.is_current:
            self.dismiss()

    def action_retry(self) -> None:
        if self.state != "dead":
            self.notify("Only dead jobs can be retried", severity="warning")
            return
        self.post_message(RetryJobs([self.job_id], done=self.load))

    def action_cancel_job(self) -> None:
        if self.state != "processing":
            self.post_message(CancelJobs([self.job_id], done=self.load))
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.post_message(CancelJobs([self.job_id], done=self.load))

        self.app.push_screen(ConfirmScreen(
            f"Cancel job {self.job_id}? It is running: its command is stopped.",
            "Cancel job", no_label="Keep", destructive=True), confirmed)

    def action_delete(self) -> None:
        def confirmed(yes: bool | None) -> None:
            if yes:
                self.post_message(DeleteJobs([self.job_id], done=self._close))

        self.app.push_screen(ConfirmScreen(f"Delete job {self.job_id} and its history?",
                                           "Delete", destructive=True), confirmed)
