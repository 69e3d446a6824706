"""With ``QUEUECTL_STRICT_SKIPS=1`` (``.ci/run`` sets it), a skipped test fails.

Some tests need what a developer's machine may lack (root to mount a small
tmpfs, Chromium, PostgreSQL) and skip there with the reason in the summary.
CI has all of it: there a skip means a check silently did not run, so it is
reported as a failure with the same reason.
"""

from __future__ import annotations

import os

import pytest

STRICT = os.environ.get("QUEUECTL_STRICT_SKIPS") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but QUEUECTL_STRICT_SKIPS=1 requires it to run: {reason}"
