"""Waiting in Pilot tests: refreshes are coalesced and built off the event loop, so tests
poll for what they expect instead of guessing a delay."""


async def wait_until(pilot, predicate, timeout: float = 5.0) -> bool:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        await pilot.pause(0.05)
    return predicate()
