"""Progress of long training work: a tqdm bar (with its ETA) on a terminal, plain lines with the
elapsed time and an ETA about every 10% elsewhere (CI logs, files)."""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    def __init__(self, *, total: int, label: str, enabled: bool = True, unit: str = "it") -> None:
        self.total = max(total, 0)
        self.label = label
        self.enabled = enabled and total > 0
        self.done = 0
        self.note = ""
        self._started = time.perf_counter()
        self._next_report = 0.1
        self._bar: Any = None
        if self.enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=label, unit=unit, file=sys.stderr)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def set_note(self, note: str) -> None:
        """A short status shown beside the bar (the loss, the learning rate)."""
        self.note = note
        if self._bar is not None:
            self._bar.set_postfix_str(note, refresh=False)

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        fraction = self.done / self.total
        if fraction + 1e-9 >= self._next_report or self.done >= self.total:
            elapsed = time.perf_counter() - self._started
            eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
            note = f" {self.note}" if self.note else ""
            print(
                f"{self.label}: {self.done}/{self.total} ({fraction:.0%}) "
                f"elapsed {elapsed:.0f} s, ETA {eta:.0f} s{note}",
                file=sys.stderr,
                flush=True,
            )
            while self._next_report <= fraction + 1e-9:
                self._next_report += 0.1
