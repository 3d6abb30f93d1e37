"""What became of each payload, as the servicer reports it.

The servicer knows nothing of metrics or logs: it tells an :class:`Outcomes`
what happened, and the server wires in the implementation that counts and logs
(:class:`service.interceptors.CallOutcomes`).
"""

from __future__ import annotations

from typing import Protocol

from service.core.model import ClassifyResult, Rejection, Result


class Outcomes(Protocol):
    """Receives one report per normalized payload (stream items included)."""

    def normalized(self, result: Result) -> None:
        """A payload became a conversion."""

    def rejected(self, rejection: Rejection) -> None:
        """Normalize refused a payload."""

    def classified(self, result: ClassifyResult) -> None:
        """Classify found the event of a payload."""


class IgnoredOutcomes:
    """Outcomes nobody listens to: the servicer's default."""

    def normalized(self, result: Result) -> None:
        """Ignore the conversion."""

    def rejected(self, rejection: Rejection) -> None:
        """Ignore the rejection."""

    def classified(self, result: ClassifyResult) -> None:
        """Ignore the classification."""
