"""Textual's Linux terminal driver, made safe for a terminal that goes away.

Closing a terminal window sends SIGHUP and SIGCONT and turns every write into
EIO. Stock Textual 8.2.8 then restarted application mode on the dead terminal
and its writer thread died, so the exit path (which writes) hung for good.
This relies on Textual internals (``_file``, ``_must_signal_resume``,
``_sigcont_application``): re-check it when upgrading Textual.
"""

from __future__ import annotations

from textual.drivers.linux_driver import LinuxDriver


class _TerminalOutput:
    """The terminal as the driver's writer thread sees it: once the terminal has
    gone (EIO after a hangup), further output is dropped instead of raised.

    Textual's writer thread dies on the first failed write; the event loop then
    blocks for good in ``Queue.put`` once 30 more writes are queued, and the exit
    path writes too (restoring the screen): the app hung instead of exiting.
    """

    def __init__(self, file):
        self._file = file
        self.gone = False

    def write(self, text: str) -> None:
        if not self.gone:
            try:
                self._file.write(text)
            except OSError:
                self.gone = True

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except OSError:
                self.gone = True

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return self._file.isatty()


class HangupSafeDriver(LinuxDriver):
    """Textual's terminal driver, made safe for a terminal that goes away.

    - Output to a dead terminal is dropped (see ``_TerminalOutput``).
    - SIGCONT resumes application mode only after our own suspend (ctrl+z). The
      kernel sends SIGCONT with SIGHUP when the terminal is closed; Textual then
      started application mode again on the dead terminal (a second writer
      thread, which died at once with writes queued behind it): the exit hung.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._file = _TerminalOutput(self._file)

    def _sigcont_application(self, *args) -> None:
        if self._must_signal_resume:  # set by our SIGTSTP handler (a real suspend)
            super()._sigcont_application(*args)
