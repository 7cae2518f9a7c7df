"""Generation slots: requests beyond the slots wait, up to the queue's length; past that they are refused at
once, and a freed slot goes to the request that waited."""

import asyncio

import pytest

from millrace.serving.slots import Full, Slots


def test_past_the_slots_and_the_queue_a_request_is_refused_at_once_and_a_freed_slot_serves_the_waiting():
    async def scenario():
        slots = Slots(slots=1, queue=1)
        await slots.acquire()
        waiting = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0)
        assert slots.waiting == 1 and not waiting.done()
        with pytest.raises(Full):
            await slots.acquire()
        slots.release()
        await asyncio.wait_for(waiting, 1)
        assert slots.busy == 1 and slots.waiting == 0

    asyncio.run(scenario())
