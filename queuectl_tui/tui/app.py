"""The Textual app: four panes over one database, live, with embedded workers.

Data flows one way: a thread worker fetches a ``Snapshot`` for the current
``View`` and posts it; the handler applies it to the widgets and re-arms the
refresh timer, so refreshes never overlap and a slow query never piles up
ticks. Every change goes through the domain module in a thread worker, too;
the event loop never waits on SQLite.
"""

from __future__ import annotations

import dataclasses
import os
import random
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import peewee
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from queuectl_tui.errors import QueueError
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from queuectl_tui.supervisor import Supervisor
from queuectl_tui.tui import messages
from queuectl_tui.tui.data import PANES, Snapshot, View, fetch
from queuectl_tui.tui.widgets.config_pane import ConfigPane
from queuectl_tui.tui.widgets.dlq_pane import DlqPane
from queuectl_tui.tui.widgets.footer import KeysFooter
from queuectl_tui.tui.widgets.jobs_pane import JobsPane
from queuectl_tui.tui.widgets.stats_bar import StatsBar
from queuectl_tui.tui.widgets.workers_pane import WorkersPane

if TYPE_CHECKING:
    from queuectl_tui.tui.screens.new_job import NewJobScreen
    from queuectl_tui.tui.widgets.job_table_pane import JobTablePane

REFRESH_SECONDS = 1.0
REAP_SECONDS = 0.5
SLOW_FETCH_SECONDS = 2.0  # after this, say that we are waiting for the database
DEMO_PRODUCER_SECONDS = 2.5


class QueuectlApp(App):
    """queuectl's TUI. Build it with ``make_app`` (CLI, tests and screenshots alike)."""

    CSS_PATH = "queuectl.tcss"
    TITLE = "queuectl"
    # The screen gets -narrow / -normal / -wide as the terminal is resized (see the .tcss).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (140, "-wide")]
    BINDINGS = [
        Binding("1", "show_pane('jobs')", "Jobs", id="pane.jobs", tooltip="All jobs"),
        Binding("2", "show_pane('dlq')", "DLQ", id="pane.dlq", tooltip="Dead letter queue"),
        Binding("3", "show_pane('workers')", "Workers", id="pane.workers",
                tooltip="Live workers"),
        Binding("4", "show_pane('config')", "Config", id="pane.config", tooltip="Settings"),
        Binding("n", "new_job", "New job", id="app.new_job", tooltip="Enqueue a job"),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Every key"),
        Binding("q", "quit_app", "Quit", id="app.quit", tooltip="Quit"),
        Binding("ctrl+c", "quit_app", "Quit", show=False, priority=True, id="app.quit_ctrl_c"),
    ]

    class SnapshotReady(Message):
        def __init__(self, snapshot: Snapshot, elapsed: float):
            super().__init__()
            self.snapshot = snapshot
            self.elapsed = elapsed

    class RefreshFailed(Message):
        def __init__(self, error: str):
            super().__init__()
            self.error = error

    def __init__(
        self,
        queue: JobQueue,
        db_path: str,
        workers: int = 0,
        demo: bool = False,
        clock: Callable[[], float] = time.time,
        log_path: str | None = None,
    ):
        super().__init__()
        self.queue = queue
        self.db_path = db_path
        self.initial_workers = workers
        self.demo = demo
        self.clock = clock
        self.owner = f"tui:{os.getpid()}"
        self._log = open(log_path or f"{db_path}.tui-workers.log", "ab")  # noqa: SIM115
        self.supervisor = Supervisor(db_path, owner=self.owner, log=self._log)
        self.view = View()
        self.last_snapshot: Snapshot | None = None
        self.last_total = 0
        self.refresh_elapsed: float | None = None
        self._refresh_timer: Timer | None = None
        self._fetch_started: float | None = None
        self._leave_workers = False
        self._paused_workers = 0
        self._rng = random.Random()

    # --- layout --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatsBar(id="stats")
        with TabbedContent(initial="jobs", id="panes"):
            with TabPane("1 Jobs", id="jobs"):
                yield JobsPane(id="jobs-pane")
            with TabPane("2 DLQ", id="dlq"):
                yield DlqPane(id="dlq-pane")
            with TabPane("3 Workers", id="workers"):
                yield WorkersPane(id="workers-pane")
            with TabPane("4 Config", id="config"):
                yield ConfigPane(id="config-pane")
        yield Static(id="status-line")
        yield KeysFooter()

    def on_mount(self) -> None:
        if self.initial_workers:
            self.supervisor.start(self.initial_workers)
        self.set_interval(REAP_SECONDS, self.supervisor.reap)
        self.set_interval(0.5, self._watch_fetch)
        if self.demo:
            self.set_interval(DEMO_PRODUCER_SECONDS, self.produce_demo_job)
        self.query_one("#jobs-table").focus()
        self.refresh_data()

    def on_unmount(self) -> None:
        if not self._leave_workers and self.supervisor.procs:
            self.supervisor.stop()
            if not self.supervisor.wait(timeout=10):
                self.supervisor.kill()
        self._log.close()

    # --- the refresh loop ----------------------------------------------------

    def schedule_refresh(self, delay: float = REFRESH_SECONDS) -> None:
        if self._refresh_timer is not None:
            self._refresh_timer.stop()
        self._refresh_timer = self.set_timer(delay, self._refresh_tick)

    def _refresh_tick(self) -> None:
        if not self.screen_stack:
            return  # shutting down
        if self.screen is not self.screen_stack[0]:
            self.schedule_refresh()  # a detail screen or dialog is up: pause redraws
            return
        self.refresh_data()

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def refresh_data(self) -> None:
        view = self.view
        started = time.perf_counter()
        self._fetch_started = time.monotonic()
        try:
            snapshot = fetch(self.queue, view)
        except (peewee.DatabaseError, sqlite3.Error, QueueError) as exc:
            self.post_message(self.RefreshFailed(str(exc)))
            return
        finally:
            self._fetch_started = None
        if not get_current_worker().is_cancelled:
            self.post_message(self.SnapshotReady(snapshot, time.perf_counter() - started))

    def _watch_fetch(self) -> None:
        """A locked database makes a query wait (up to the busy timeout): say so,
        rather than leave the screen looking stale."""
        started = self._fetch_started
        if started is not None and time.monotonic() - started > SLOW_FETCH_SECONDS:
            self.query_one("#status-line", Static).update(
                f"[b yellow]waiting for the database[/b yellow] for "
                f"{time.monotonic() - started:.0f}s (locked by another process?)  ·  "
                f"{self.db_path}")

    def on_queuectl_app_refresh_failed(self, message: RefreshFailed) -> None:
        self.query_one("#status-line", Static).update(
            f"[b red]database unavailable:[/b red] {message.error}  ·  retrying")
        self.schedule_refresh()

    def on_queuectl_app_snapshot_ready(self, message: SnapshotReady) -> None:
        self.schedule_refresh()
        snapshot = message.snapshot
        self.refresh_elapsed = message.elapsed
        if snapshot.view != self.view:
            return  # the user changed the view meanwhile; a fresh fetch is on its way
        self.last_snapshot = snapshot
        now = self.clock()
        embedded = sum(1 for w in snapshot.workers if w.owner == self.owner)
        self.query_one(StatsBar).apply(snapshot, embedded)
        self.query_one(DlqPane).note_counts(snapshot.counts)
        if snapshot.view.pane == "workers":
            self.query_one(WorkersPane).apply(snapshot, now, owner=self.owner,
                                              target=self.supervisor.wanted)
        else:
            pane = {"jobs": JobsPane, "dlq": DlqPane, "config": ConfigPane}[snapshot.view.pane]
            self.query_one(pane).apply(snapshot, now)
        if snapshot.view.pane in ("jobs", "dlq"):
            self.last_total = snapshot.total
        self.query_one("#status-line", Static).update(f"{self.db_path}")

    def change_view(self, **changes) -> None:
        """Change what is shown and fetch it now."""
        view = dataclasses.replace(self.view, **changes)
        if view != self.view:
            self.view = view
            self.refresh_data()

    # --- panes ---------------------------------------------------------------

    def action_show_pane(self, pane: str) -> None:
        self.query_one(TabbedContent).active = pane

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = event.pane.id
        if pane in PANES:
            table = {"jobs": "#jobs-table", "dlq": "#dlq-table", "workers": "#workers-table",
                     "config": "#config-table"}[pane]
            self.query_one(table).focus()
            self.change_view(pane=pane)

    def open_job(self, job_id: str) -> None:
        from queuectl_tui.tui.screens.job_detail import JobDetailScreen

        self.push_screen(JobDetailScreen(job_id, self.queue, self.clock))

    def action_new_job(self) -> None:
        from queuectl_tui.tui.screens.new_job import NewJobScreen

        def created(job_id: str | None) -> None:
            if job_id:
                self.notify(f"Enqueued {job_id}", markup=False)
                self.refresh_data()

        self.push_screen(NewJobScreen(), created)

    def action_help(self) -> None:
        from queuectl_tui.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    # --- changes, always in a thread ----------------------------------------

    def run_domain(self, operation: Callable[[JobQueue], object], success: str,
                   then: Callable[[], object] | None = None) -> None:
        """Run a domain operation off the event loop; toast the outcome, then refresh."""
        self.run_worker(partial(self._run_domain, operation, success, then), thread=True,
                        group="actions", exit_on_error=False)

    def _run_domain(self, operation, success: str, then) -> None:
        try:
            operation(self.queue)
        except QueueError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        except (peewee.DatabaseError, sqlite3.Error) as exc:
            self.call_from_thread(self.notify, f"database error: {exc}", severity="error",
                                  markup=False)
            return
        self.call_from_thread(self._action_done, success, then)

    def _action_done(self, success: str, then) -> None:
        self.notify(success, markup=False)
        self.refresh_data()
        if then is not None:
            then()

    def enqueue_from_form(self, spec: JobSpec, form) -> None:
        def work_() -> None:
            try:
                (job_id,) = self.queue.enqueue([spec])
            except QueueError as exc:
                self.call_from_thread(form.show_error, str(exc))
                return
            self.call_from_thread(form.dismiss, job_id)

        self.run_worker(work_, thread=True, group="actions", exit_on_error=False)

    def produce_demo_job(self) -> None:
        from queuectl_tui.demo import random_job

        spec = random_job(self._rng)
        self.run_worker(partial(self.queue.enqueue, [spec]), thread=True, group="demo",
                        exit_on_error=False)

    # --- requests from panes and screens -----------------------------------------
    # Widgets and screens post these (tui/messages.py, or nested on the sender);
    # every change runs through the domain in a thread worker (run_domain).

    def on_job_table_pane_listing_changed(self, message: JobTablePane.ListingChanged) -> None:
        view = dataclasses.replace(self.view, **{message.pane: message.listing})
        if view != self.view:
            self.view = view
            self.refresh_data()

    def on_open_job(self, message: messages.OpenJob) -> None:
        self.open_job(message.job_id)

    def on_show_pane(self, message: messages.ShowPane) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.action_show_pane(message.pane)

    def on_cancel_jobs(self, message: messages.CancelJobs) -> None:
        ids = list(message.ids)
        self.run_domain(lambda q: q.cancel(ids), f"Cancelled {message.label}", message.done)

    def on_retry_jobs(self, message: messages.RetryJobs) -> None:
        ids = list(message.ids)
        self.run_domain(lambda q: q.retry_dead(ids), f"Retrying {message.label}",
                        message.done)

    def on_delete_jobs(self, message: messages.DeleteJobs) -> None:
        ids = list(message.ids)
        self.run_domain(lambda q: q.delete(ids), f"Deleted {message.label}", message.done)

    def on_retry_all_dead(self, message: messages.RetryAllDead) -> None:
        self.run_domain(lambda q: q.retry_dead(None), "Retrying every dead job")

    def on_config_pane_setting_changed(self, message: ConfigPane.SettingChanged) -> None:
        from queuectl_tui.config import SETTINGS, format_value

        key, value = message.key, message.value
        self.run_domain(lambda q: q.set_config(key, value),
                        f"{key} = {format_value(SETTINGS[key].parse(value))}")

    def on_workers_pane_scale(self, message: WorkersPane.Scale) -> None:
        self.scale_workers(self.supervisor.wanted + message.step)

    def on_workers_pane_toggle(self, message: WorkersPane.Toggle) -> None:
        self.toggle_workers()

    def on_new_job_screen_submitted(self, message: NewJobScreen.Submitted) -> None:
        self.enqueue_from_form(message.spec, message.form)

    # --- embedded workers ----------------------------------------------------

    def scale_workers(self, count: int) -> None:
        count = max(0, min(count, 64))
        self.supervisor.scale(count)
        self.notify(f"Embedded workers: {count}")
        self.refresh_data()

    def toggle_workers(self) -> None:
        if self.supervisor.wanted:
            self._paused_workers = self.supervisor.wanted
            self.scale_workers(0)
        else:
            self.scale_workers(self._paused_workers or max(self.initial_workers, 1))

    def busy_embedded_workers(self) -> int:
        if self.last_snapshot is None:
            return 0
        return sum(1 for w in self.last_snapshot.workers
                   if w.owner == self.owner and w.current_job)

    def action_quit_app(self) -> None:
        busy = self.busy_embedded_workers() if self.supervisor.alive() else 0
        if not busy:
            self.shutdown("wait")
            return
        from queuectl_tui.tui.screens.quit import QuitScreen

        self.push_screen(QuitScreen(busy), self.shutdown)

    def shutdown(self, choice: str | None) -> None:
        if choice in (None, "cancel"):
            return
        if choice == "leave":
            self._leave_workers = True
            self.exit()
            return
        if choice == "stop":
            self.supervisor.stop_now()  # jobs are stopped and put back, uncharged
        else:
            self.supervisor.stop()
        if not self.supervisor.alive():
            self.exit()
            return
        self.notify("Waiting for the embedded workers to finish their jobs…", timeout=30)
        self.set_interval(0.1, self._exit_when_workers_gone)

    def _exit_when_workers_gone(self) -> None:
        self.supervisor.reap()
        if not self.supervisor.alive():
            self.exit()

    # --- command palette -----------------------------------------------------

    def get_system_commands(self, screen: Screen):
        """Every action by name (ctrl+p), besides Textual's own (themes, keys...)."""
        yield from super().get_system_commands(screen)
        main = self.screen_stack[0]  # the panes live there, whatever screen is on top
        jobs, dlq = main.query_one(JobsPane), main.query_one(DlqPane)

        def on_pane(pane: str, action: Callable[[], object]) -> Callable[[], None]:
            def run() -> None:
                while len(self.screen_stack) > 1:
                    self.pop_screen()
                self.action_show_pane(pane)
                action()
            return run

        for pane, title in (("jobs", "Jobs"), ("dlq", "DLQ"), ("workers", "Workers"),
                            ("config", "Config")):
            yield SystemCommand(f"Show {title}", f"Switch to the {title} pane",
                                on_pane(pane, lambda: None))
        yield SystemCommand("New job", "Enqueue a shell command", self.action_new_job)
        yield SystemCommand("Filter jobs by state", "Cycle the Jobs pane's state filter (f)",
                            on_pane("jobs", jobs.action_cycle_filter))
        yield SystemCommand("Search jobs", "Search ids and commands (/)",
                            on_pane("jobs", jobs.action_search))
        yield SystemCommand("Sort jobs", "Sort the Jobs pane by the next column (o)",
                            on_pane("jobs", jobs.action_cycle_sort))
        yield SystemCommand("Cancel the selected job", "Jobs pane (c)",
                            on_pane("jobs", jobs.action_cancel_job))
        yield SystemCommand("Retry the selected dead jobs", "DLQ: the marked ones, or the "
                            "selected one (r)", on_pane("dlq", dlq.action_retry))
        yield SystemCommand("Retry all dead jobs", "Move every DLQ job back to pending (R)",
                            on_pane("dlq", dlq.action_retry_all))
        yield SystemCommand("Delete the selected dead jobs", "DLQ, after a confirmation (x)",
                            on_pane("dlq", dlq.action_delete))
        yield SystemCommand("Add a worker", "Start one more embedded worker (+)",
                            lambda: self.scale_workers(self.supervisor.wanted + 1))
        yield SystemCommand("Remove a worker", "One embedded worker finishes and exits (-)",
                            lambda: self.scale_workers(self.supervisor.wanted - 1))
        yield SystemCommand("Stop/start embedded workers", "Toggle all embedded workers (s)",
                            self.toggle_workers)
        yield SystemCommand("Help", "Every key (?)", self.action_help)
        yield SystemCommand("Quit queuectl", "Asks first if embedded workers are busy (q)",
                            self.action_quit_app)
