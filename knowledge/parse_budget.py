"""The time budget of one document parse, checked as the parse goes.

Parsers call `tick()` once per unit of work (a Markdown block or inline step, an HTML tree event,
a chunk fed to the HTML parser, a PDF content-stream operator); every `check_every` ticks the
clock is read, and past the deadline `DocumentTooComplex` (422) stops the parse. The tick count
is also a deterministic measure of the work a parse did (tests compare it across input sizes).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.errors import Unprocessable

DEFAULT_MAX_PARSE_SECONDS = 10.0


class DocumentTooComplex(Unprocessable):
    """A document whose parse ran out of its time budget, or whose structure is beyond a limit."""

    code = "document_too_complex"


class ParseBudget:
    """A deadline of `seconds` from `start()`, read every `check_every` ticks."""

    def __init__(
        self,
        seconds: float = DEFAULT_MAX_PARSE_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        check_every: int = 64,
    ) -> None:
        if seconds <= 0 or check_every < 1:
            raise ValueError("need seconds > 0 and check_every >= 1")
        self.seconds = seconds
        self.steps = 0
        self._clock = clock
        self._check_every = check_every
        self._next_check = check_every
        self._deadline: float | None = None

    def start(self) -> None:
        """Start the clock (the first `tick` or `check` starts it too)."""
        if self._deadline is None:
            self._deadline = self._clock() + self.seconds

    def tick(self, steps: int = 1) -> None:
        """Count `steps` units of work; read the clock every `check_every` of them."""
        self.steps += steps
        if self.steps >= self._next_check:
            self._next_check = self.steps + self._check_every
            self.check()

    def check(self) -> None:
        """Raise `DocumentTooComplex` when the deadline has passed."""
        if self._deadline is None:
            self.start()
            return
        if self._clock() > self._deadline:
            raise DocumentTooComplex(
                f"the document took longer than {self.seconds:g} s to read "
                "(max_parse_seconds): split it into smaller documents or simplify its markup"
            )
