"""The conductor's wait between two looks at the job board."""

import threading
import time

from upgrader.jobs import conductor


def test_wake_cuts_the_wait_short():
    timeout = conductor._WakeableTimeout(30.0)
    threading.Timer(0.05, timeout.wake).start()
    started = time.monotonic()
    timeout.wait()
    assert time.monotonic() - started < 5.0
    assert not timeout.is_stopped()


def test_a_wake_before_the_wait_is_not_lost():
    timeout = conductor._WakeableTimeout(1.0)
    timeout.wake()
    started = time.monotonic()
    timeout.wait()
    assert time.monotonic() - started < 0.9
    # Consumed: the next wait waits its time.
    started = time.monotonic()
    timeout.wait()
    assert time.monotonic() - started >= 1.0


def test_interrupt_stops_for_good():
    timeout = conductor._WakeableTimeout(30.0)
    timeout.interrupt()
    started = time.monotonic()
    timeout.wait()
    assert time.monotonic() - started < 5.0
    assert timeout.is_stopped()
