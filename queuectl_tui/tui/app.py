"""The Textual app: four panes over one database, live, with embedded workers.

Data flows one way: a thread worker fetches a ``Snapshot`` for the current
``View`` and posts it; the handler applies it to the widgets and re-arms the
refresh timer, so refreshes never overlap and a slow query never piles up
ticks. A tick first asks the database whether anything changed at all
(``JobQueue.data_version``) and skips the counting when nothing did. Every
change goes through the domain module in a thread worker, too; the event loop
never waits on SQLite, and one ``Worker.StateChanged`` handler reports every
failed thread worker (the refresh re-arms, a form shows its error).

Every way out (q, ctrl+q, the palette, ctrl+c, SIGTERM/SIGHUP, a crash) ends in
``EmbeddedWorkers.shutdown``: see ``tui/embedded.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import signal
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.driver import Driver
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from queuectl_tui import registry
from queuectl_tui.errors import QueueError
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from queuectl_tui.tui import messages
from queuectl_tui.tui.commands import QueuectlCommands
from queuectl_tui.tui.data import PANES, Snapshot, View, fetch
from queuectl_tui.tui.embedded import EmbeddedWorkers
from queuectl_tui.tui.offers import offered
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
LIGHT_REFRESH_SECONDS = 5.0  # nothing changed: still re-read workers, redraw relative times
REAP_SECONDS = 0.5
SLOW_FETCH_SECONDS = 2.0  # after this, say that we are waiting for the database
DEMO_PRODUCER_SECONDS = 2.5
EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
TEST_CRASH_VARIABLE = "QUEUECTL_TUI_TEST_CRASH"  # tests only: "mount" or "busy"


def _test_crash(point: str) -> None:
    """Raise an unexpected error at ``point`` when the tests ask for one, so the
    crash path (workers stopped, jobs put back, exit 1) is tested for real."""
    if os.environ.get(TEST_CRASH_VARIABLE) == point:
        raise RuntimeError(f"test crash at {point} [/b]")


class QueuectlApp(App):
    """queuectl's TUI. Build it with ``make_app`` (CLI, tests and screenshots alike)."""

    CSS_PATH = "queuectl.tcss"
    TITLE = "queuectl"
    COMMANDS = App.COMMANDS | {QueuectlCommands}
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
        Binding("q", "quit", "Quit", id="app.quit",
                tooltip="Quit (asks first if embedded workers are running jobs)"),
        # Textual binds ctrl+q to its own quit-at-once and ctrl+c to a hint: both
        # take our one quit path instead, from any screen.
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit_ctrl_q"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="app.quit_ctrl_c"),
    ]

    class SnapshotReady(Message):
        """A fetch finished; ``elapsed`` is how long the queries took."""

        def __init__(self, snapshot: Snapshot, elapsed: float):
            super().__init__()
            self.snapshot = snapshot
            self.elapsed = elapsed

    class Unchanged(Message):
        """A tick found the database unchanged: nothing to redraw, re-arm."""

    class BusyCounted(Message):
        """How many embedded workers run a job, read fresh when the user quits."""

        def __init__(self, busy: int):
            super().__init__()
            self.busy = busy

    def __init__(
        self,
        queue: JobQueue,
        db_path: str,
        workers: int = 0,
        demo: bool = False,
        clock: Callable[[], float] = time.time,
        log_path: str | None = None,
        throwaway: bool = False,
        can_embed: bool = True,
    ):
        super().__init__()
        self.queue = queue
        # What the app offers (tui/offers.py): a read-only queue, no changes; a
        # browser tab (can_embed=False), no embedded workers.
        self.read_only = queue.read_only
        self.can_embed = can_embed and not queue.read_only
        self.db_path = db_path  # what reopens it (a URL may hold a password)
        self.location = queue.storage.location  # what is shown (never a password)
        self.initial_workers = workers
        self.demo = demo
        self.clock = clock
        self.owner = f"tui:{os.getpid()}"
        self.embedded = EmbeddedWorkers(db_path, self.owner, log_path, can_leave=not throwaway)
        self.view = View()
        self.last_snapshot: Snapshot | None = None
        self.last_total = 0
        self.refresh_elapsed: float | None = None
        self.crash: BaseException | None = None
        self._refresh_timer: Timer | None = None
        self.refresh_seconds = REFRESH_SECONDS  # between ticks (tests make it shorter)
        self._fetch_started: float | None = None
        self._data_version: int | None = None
        self._last_light_fetch = 0.0
        self._quit_choice: str | None = None
        self._forms: dict[Worker, object] = {}
        self._signals_installed: list[int] = []
        self._rng = random.Random()

    @property
    def supervisor(self) -> EmbeddedWorkers:
        """Kept for the panes that still read ``app.supervisor.wanted``."""
        return self.embedded

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

    def get_driver_class(self) -> type[Driver]:
        """Textual's own choice, with the hangup-safe terminal driver on a tty."""
        from textual.drivers.linux_driver import LinuxDriver  # not on every platform

        from queuectl_tui.tui.driver import HangupSafeDriver

        driver = super().get_driver_class()
        return HangupSafeDriver if driver is LinuxDriver else driver

    def on_load(self) -> None:
        """SIGTERM, SIGHUP (the terminal went away) and SIGINT from outside end the
        app through the same path as a crash: jobs put back, workers stopped."""
        loop = asyncio.get_running_loop()
        for sig in EXIT_SIGNALS:
            try:
                loop.add_signal_handler(sig, self._on_exit_signal, sig)
            except (RuntimeError, ValueError):  # not the main thread (textual-serve, tests)
                continue
            self._signals_installed.append(sig)

    def on_mount(self) -> None:
        if self.initial_workers:
            self._change_workers(lambda: self.embedded.scale(self.initial_workers), quiet=True)
        _test_crash("mount")
        self.set_interval(REAP_SECONDS, self.embedded.reap)
        self.set_interval(0.5, self._watch_fetch)
        if self.demo:
            self.set_interval(DEMO_PRODUCER_SECONDS, self.produce_demo_job)
        self.query_one("#jobs-table").focus()
        self.refresh_data()

    def on_resize(self) -> None:
        """A resized terminal shows or drops columns soon, not at the next full
        refresh (up to ``LIGHT_REFRESH_SECONDS`` away when nothing changes). The
        job tables also redraw at once from their rows (``JobTablePane.on_resize``)."""
        if self.last_snapshot is not None:
            self.call_after_refresh(self.refresh_data)

    def on_unmount(self) -> None:
        self.embedded.shutdown()
        loop = asyncio.get_running_loop()
        for sig in self._signals_installed:
            loop.remove_signal_handler(sig)
        self._signals_installed.clear()

    def _on_exit_signal(self, signum: int) -> None:
        self.embedded.stop_jobs()  # at once: the jobs go back to the queue uncharged
        self.exit(return_code=128 + signum)

    def _handle_exception(self, error: Exception) -> None:
        """An unexpected error anywhere on the event loop: Textual ends the app
        (exit status 1, traceback on stderr); the running jobs are stopped and
        put back from here on, before the screen is even torn down."""
        if self.crash is None:
            self.crash = error
        self.embedded.stop_jobs()
        super()._handle_exception(error)

    # --- the refresh loop ----------------------------------------------------

    def schedule_refresh(self, delay: float | None = None) -> None:
        if delay is None:
            delay = self.refresh_seconds
        if self._refresh_timer is not None:
            self._refresh_timer.stop()
        self._refresh_timer = self.set_timer(delay, self._refresh_tick)

    def _refresh_tick(self) -> None:
        if not self.screen_stack:
            return  # shutting down
        if self.screen is not self.screen_stack[0]:
            self.schedule_refresh()  # a detail screen or dialog is up: pause redraws
            return
        self.refresh_data(force=False)

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def refresh_data(self, force: bool = True) -> None:
        """Fetch what the current view shows. A timer tick (``force=False``) first
        asks whether any connection committed since the last fetch: if not, it
        only re-reads the workers every ``LIGHT_REFRESH_SECONDS`` (heartbeats,
        relative times) instead of counting every job again."""
        view = self.view
        started = time.perf_counter()
        self._fetch_started = time.monotonic()
        try:
            version = self.queue.data_version()
            last = self.last_snapshot
            if (not force and last is not None and last.view == view
                    and version == self._data_version):
                if time.monotonic() - self._last_light_fetch < LIGHT_REFRESH_SECONDS:
                    self.post_message(self.Unchanged())
                    return
                self.queue.recover_expired_if_writable()
                workers = registry.live_workers(self.queue.storage, last.config.lease_seconds)
                snapshot = dataclasses.replace(last, workers=workers)
                self._last_light_fetch = time.monotonic()
            else:
                snapshot = fetch(self.queue, view)
                self._data_version = version
                self._last_light_fetch = time.monotonic()
        finally:
            self._fetch_started = None
        if not get_current_worker().is_cancelled:
            self.post_message(self.SnapshotReady(snapshot, time.perf_counter() - started))

    def _watch_fetch(self) -> None:
        """A locked database makes a query wait (up to the busy timeout): say so,
        rather than leave the screen looking stale."""
        started = self._fetch_started
        if started is not None and time.monotonic() - started > SLOW_FETCH_SECONDS:
            self._status(Text.assemble(
                ("waiting for the database", "b yellow"),
                f" for {time.monotonic() - started:.0f}s (locked by another process?)  ·  ",
                self.location))

    def _status(self, text: Text | str) -> None:
        """The status line shows text literally (paths and errors may hold brackets)."""
        self.query_one("#status-line", Static).update(
            text if isinstance(text, Text) else Text(text))

    def on_queuectl_app_unchanged(self, message: Unchanged) -> None:
        self.schedule_refresh()

    def on_queuectl_app_snapshot_ready(self, message: SnapshotReady) -> None:
        if not self.is_running or not self.screen_stack:
            return  # shutting down: the panes are gone (a late refresh thread)
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
        self._status(self.location)
        if self.busy_embedded_workers():
            _test_crash("busy")

    # --- failed thread workers: one handler -----------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every thread worker of the app that fails ends here, whatever it raised:
        a refresh says so in the status line and tries again; a form shows the
        error; an action toasts it. Always literally (errors quote job text)."""
        worker = event.worker
        if event.state in (WorkerState.SUCCESS, WorkerState.CANCELLED):
            self._forms.pop(worker, None)
            return
        if event.state != WorkerState.ERROR:
            return
        error = worker.error
        text = str(error) if isinstance(error, QueueError) else _describe(error)
        if worker.group == "refresh":
            self._data_version = None  # the next tick fetches in full
            self._status(Text.assemble(("refresh failed: ", "b red"), text,
                                       f"  ·  retrying in {self.refresh_seconds:g}s"))
            self.schedule_refresh()
        elif worker.group == "quit":  # could not count the busy workers: ask anyway
            self._ask_or_quit(self.embedded.alive())
        elif worker in self._forms:
            self._forms.pop(worker).show_error(text)
        else:
            self.notify(text, title="Failed", severity="error", markup=False)

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
            for widget in self.query(table):  # not there yet while the pane mounts
                widget.focus()
            self.change_view(pane=pane)

    def open_job(self, job_id: str) -> None:
        from queuectl_tui.tui.screens.job_detail import JobDetailScreen

        self.push_screen(JobDetailScreen(job_id, self.queue, self.clock))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return offered(self, action)  # read-only / browser tab: see tui/offers.py

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
        """Run a domain operation off the event loop; toast the outcome, then refresh.
        A failure of any kind is toasted by ``on_worker_state_changed``."""
        self.run_worker(partial(self._run_domain, operation, success, then), thread=True,
                        group="actions", exit_on_error=False)

    def _run_domain(self, operation, success: str, then) -> None:
        operation(self.queue)
        self.call_from_thread(self._action_done, success, then)

    def _action_done(self, success: str, then) -> None:
        self.notify(success, markup=False)
        self.refresh_data()
        if then is not None:
            then()

    def enqueue_from_form(self, spec: JobSpec, form) -> None:
        """Enqueue ``spec`` off the event loop for the new-job form: on success the
        form is dismissed with the new id; any error (a refused spec, a locked
        database...) is shown by ``form.show_error(text)``, so the form never hangs."""

        def enqueue() -> None:
            (job_id,) = self.queue.enqueue([spec])
            self.call_from_thread(form.dismiss, job_id)

        worker = self.run_worker(enqueue, thread=True, group="enqueue", exit_on_error=False)
        self._forms[worker] = form

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
        self._change_workers(lambda: self.embedded.scale(count))

    def toggle_workers(self) -> None:
        self._change_workers(lambda: self.embedded.toggle(self.initial_workers))

    def _change_workers(self, change: Callable[[], int], quiet: bool = False) -> None:
        """Scale the embedded workers; a refusal (their log is a symlink or another
        user's) is shown, and the app goes on as a monitor."""
        if self._quit_choice is not None:
            return  # quitting: no new workers
        try:
            count = change()
        except QueueError as exc:
            self.notify(f"Embedded workers not started: {exc}", severity="error",
                        markup=False, timeout=15)
            return
        if not quiet:
            self.notify(f"Embedded workers: {count}")
        self.refresh_data()

    def busy_embedded_workers(self) -> int:
        if self.last_snapshot is None:
            return 0
        return sum(1 for w in self.last_snapshot.workers
                   if w.owner == self.owner and w.current_job)

    # --- quitting: q, ctrl+q, ctrl+c and the palette -------------------------

    def action_quit(self) -> None:
        """Every interactive way out. With embedded workers alive, count the busy
        ones from a fresh read (the last snapshot may be a second old): none busy,
        quit; some, ask (wait / leave / stop now / cancel)."""
        from queuectl_tui.tui.screens.quit import QuitScreen

        if isinstance(self.screen, QuitScreen):
            return  # already asking
        if not self.embedded.alive():
            self.quit_with("wait")
            return
        self._count_busy()

    @work(thread=True, exclusive=True, group="quit", exit_on_error=False)
    def _count_busy(self) -> None:
        workers = registry.live_workers(self.queue.storage, self.queue.config().lease_seconds)
        self.post_message(self.BusyCounted(
            sum(1 for w in workers if w.owner == self.owner and w.current_job)))

    def on_queuectl_app_busy_counted(self, message: BusyCounted) -> None:
        self._ask_or_quit(message.busy)

    def _ask_or_quit(self, busy: int) -> None:
        from queuectl_tui.tui.screens.quit import QuitScreen

        if isinstance(self.screen, QuitScreen):
            return
        if not busy:
            self.quit_with("wait")
            return
        self.push_screen(QuitScreen(busy, can_leave=self.embedded.can_leave), self.quit_with)

    def quit_with(self, choice: str | None) -> None:
        """Carry out the quit dialog's choice; the rest happens on unmount, in
        ``EmbeddedWorkers.shutdown`` (the same for every exit)."""
        if choice in (None, "cancel"):
            return
        self._quit_choice = choice
        if choice == "leave":
            self.embedded.leave()
            self.exit()
            return
        if choice == "stop":
            self.embedded.stop_jobs()  # jobs are stopped and put back, uncharged
        else:
            self.embedded.finish_jobs()
        if not self.embedded.alive():
            self.exit()
            return
        self.notify("Waiting for the embedded workers to finish their jobs… (q again: "
                    "stop them now or leave them)", timeout=30)
        self.set_interval(0.1, self._exit_when_workers_gone)

    def _exit_when_workers_gone(self) -> None:
        self.embedded.reap()
        if not self.embedded.alive():
            self.exit()

    # --- command palette -----------------------------------------------------

    def get_system_commands(self, screen: Screen):
        """Textual's own commands (theme, keys, screenshot), less its Quit: ours
        (in ``QueuectlCommands``) asks first when embedded workers are busy."""
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command


def _describe(error: BaseException | None) -> str:
    """An unexpected error in one line: its message, or its type if it has none."""
    if error is None:
        return "unknown error"
    text = str(error).strip()
    return text or type(error).__name__
