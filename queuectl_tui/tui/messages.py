"""Requests that several panes and screens post to the app.

Widgets and screens never call into the app: they post one of these typed
messages, which bubble up to ``QueuectlApp`` (its ``# --- requests from panes
and screens`` section) where the domain call runs in a thread worker. A
message sent by one widget only is declared on that widget instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from textual.message import Message


@dataclass
class OpenJob(Message):
    """Show the detail screen of one job."""

    job_id: str


@dataclass
class ShowPane(Message):
    """Close any screen over the panes and switch to ``pane`` (jobs, dlq, workers, config)."""

    pane: str


@dataclass
class JobsRequest(Message):
    """A change to some jobs, run through the domain; ``done`` runs after it succeeded
    (a detail screen reloads, or closes after a delete)."""

    ids: Sequence[str]
    done: Callable[[], object] | None = field(default=None, kw_only=True)

    @property
    def label(self) -> str:
        """How a toast names the jobs: the id, or "3 jobs"."""
        return self.ids[0] if len(self.ids) == 1 else f"{len(self.ids)} jobs"


@dataclass
class CancelJobs(JobsRequest):
    """Cancel pending, failed or running jobs."""


@dataclass
class RetryJobs(JobsRequest):
    """Move dead jobs back to pending."""


@dataclass
class RetryAllDead(Message):
    """Move every dead job back to pending."""


@dataclass
class DeleteJobs(JobsRequest):
    """Delete jobs with their history."""
