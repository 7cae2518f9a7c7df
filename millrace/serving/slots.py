"""Generation slots: at most `slots` answers generated at once, at most `queue` requests waiting for one, and a
request beyond those refused at once (the server answers 429 with Retry-After) rather than left to hang.

On a CPU one generation already uses every core, so a second one at the same time halves the speed of both:
a short queue in front of few slots keeps the time to first token honest and tells a client when to come back.
"""

from __future__ import annotations

import asyncio


class Full(Exception):
    """Every slot is busy and the queue is full."""


class Slots:
    def __init__(self, slots: int, queue: int) -> None:
        self.slots, self.queue = slots, queue
        self.busy = 0
        self.waiting = 0
        self._free = asyncio.Semaphore(slots)

    async def acquire(self) -> None:
        """Wait for a slot; Full at once when none is free and the queue is full."""
        if self._free.locked() and self.waiting >= self.queue:
            raise Full(f"{self.busy} answers are being generated and {self.waiting} requests wait")
        self.waiting += 1
        try:
            await self._free.acquire()
        finally:
            self.waiting -= 1
        self.busy += 1

    def release(self) -> None:
        """Free a slot (on the event loop's thread): the generation that held it has stopped."""
        self.busy -= 1
        self._free.release()
