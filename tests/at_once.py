"""Run pieces of work at the same moment, each in its own thread, and collect what they raised."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence


def errors_at_once(
    work: Sequence[Callable[[], object]], *, timeout_s: float = 60
) -> list[BaseException]:
    """Start every callable in a thread of its own, released together; return their errors."""
    start = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def run(piece: Callable[[], object]) -> None:
        start.wait()
        try:
            piece()
        except BaseException as error:  # noqa: BLE001 - returned to the test, which asserts
            errors.append(error)

    threads = [threading.Thread(target=run, args=(piece,)) for piece in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout_s)
    return errors
