"""A small progress bar over rich, drawn on stderr only when it is a terminal (and not quiet)."""
from __future__ import annotations

import sys
from types import TracebackType
from typing import Any


class Progress:
    def __init__(self, description: str, total: float | None, unit: str = '', quiet: bool = False):
        self._description = description
        self._total = total
        self._unit = unit
        self._enabled = not quiet and sys.stderr.isatty()
        self._progress: Any = None  # a rich.progress.Progress while shown
        self._task: Any = None
        self._plain_shown = False
        self._quiet = quiet

    def __enter__(self) -> Progress:
        if self._enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )
            from rich.progress import Progress as Rich
            columns = [TextColumn('{task.description}'), BarColumn()]
            if self._unit == 'B':
                columns += [DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
            else:
                columns += [MofNCompleteColumn(), TimeElapsedColumn()]
            self._progress = Rich(*columns, console=Console(stderr=True), transient=False)
            self._progress.start()
            self._task = self._progress.add_task(self._description, total=self._total)
        elif not self._quiet:
            print(f'reviewbot: {self._description} ...', file=sys.stderr, flush=True)
        return self

    def describe(self, description: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=description)
        elif not self._quiet:
            print(f'reviewbot: {description} ...', file=sys.stderr, flush=True)

    def advance(self, amount: float = 1) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=amount)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
