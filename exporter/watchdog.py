"""Client-side deadline for database calls: a server-side statement timeout cannot fire when the
network, not the server, is what is slow, so every call is also bounded here.

One thread per `Watchdog` sleeps until the earliest armed deadline and, when a call outlives
it, interrupts that call's connection (for PostgreSQL: shuts its socket down, so the blocked
driver returns at once with a disconnect error and the pool throws the connection away).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Interrupt = Callable[[Any], None]
"""Breaks off whatever a DBAPI connection is doing, from another thread; must not block."""


@dataclass(eq=False)
class Alarm:
    """One armed deadline; `fired` tells the caller its call was interrupted."""

    deadline: float
    target: Any
    limit: float
    armed: bool = True
    fired: bool = False
    order: int = field(default=0, repr=False)


class Watchdog:
    """Arms deadlines on connections and interrupts the ones that miss them."""

    def __init__(self, interrupt: Interrupt, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._interrupt = interrupt
        self._clock = clock
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, Alarm]] = []
        self._armed: set[Alarm] = set()
        self._counter = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.fired = 0
        """Calls interrupted so far (for tests and the soak report)."""

    def arm(self, target: Any, seconds: float) -> Alarm:
        """Interrupt `target` unless `disarm` is called within `seconds`."""
        alarm = Alarm(self._clock() + seconds, target, seconds, order=next(self._counter))
        with self._condition:
            if self._closed:
                alarm.armed = False
                return alarm
            heapq.heappush(self._heap, (alarm.deadline, alarm.order, alarm))
            self._armed.add(alarm)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="db-watchdog", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is alarm:
                self._condition.notify()
        return alarm

    def disarm(self, alarm: Alarm) -> bool:
        """Stop watching; True when the deadline had already fired (the call was interrupted)."""
        with self._condition:
            alarm.armed = False
            self._armed.discard(alarm)
            return alarm.fired

    @contextmanager
    def watch(self, target: Any, seconds: float) -> Iterator[Alarm]:
        """`arm` for the duration of a block."""
        alarm = self.arm(target, seconds)
        try:
            yield alarm
        finally:
            self.disarm(alarm)

    def armed_targets(self) -> list[Any]:
        """The targets of every armed deadline: the calls in progress right now."""
        with self._condition:
            return [alarm.target for alarm in self._armed]

    def interrupt_all(self) -> int:
        """Fire every armed deadline now (used when stopping); returns how many calls were interrupted."""
        with self._condition:
            alarms = list(self._armed)
            for alarm in alarms:
                self._fire(alarm)
        return len(alarms)

    def close(self) -> None:
        """Stop the thread; armed deadlines are dropped."""
        with self._condition:
            self._closed = True
            self._heap.clear()
            self._armed.clear()
            self._condition.notify()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(2)

    def _fire(self, alarm: Alarm) -> None:
        # Called with the condition held, so a concurrent `disarm` either sees `fired` or wins
        # the race and the connection is left alone.
        alarm.armed = False
        alarm.fired = True
        self._armed.discard(alarm)
        self.fired += 1
        try:
            self._interrupt(alarm.target)
        except Exception:  # an interrupt that fails must not kill the watchdog thread
            log.warning("could not interrupt a database call that exceeded %.1fs", alarm.limit, exc_info=True)

    def _loop(self) -> None:
        with self._condition:
            while not self._closed:
                while self._heap and not self._heap[0][2].armed:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._condition.wait()
                    continue
                deadline, _, alarm = self._heap[0]
                wait = deadline - self._clock()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                heapq.heappop(self._heap)
                log.warning("database call exceeded its %.1fs client-side limit; interrupting it", alarm.limit)
                self._fire(alarm)
