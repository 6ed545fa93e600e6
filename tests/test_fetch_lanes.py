"""Landing off the request path (report/fetch/lanes.py): a range's landing tasks run in the order queued, one
at a time, on a shared pool; a refused page stops the range's later pages but not its final task."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from report.errors import FetchError, StorageError
from report.fetch.lanes import LandingLane


def test_tasks_of_one_lane_run_in_order_and_never_two_at_once():
    seen, running, most = [], [0, 0, 0], [0, 0, 0]
    lock = threading.Lock()

    def task(number):
        lane = number % 3

        def run():
            with lock:
                running[lane] += 1
                most[lane] = max(most[lane], running[lane])
            time.sleep(0.003 if number % 2 == 0 else 0.0)  # a later task is often quicker than the one before
            seen.append(number)
            with lock:
                running[lane] -= 1
        return run

    with ThreadPoolExecutor(max_workers=6) as pool:
        lanes = [LandingLane(pool) for _ in range(3)]
        for number in range(60):
            lanes[number % 3].put(task(number))
        done = [lane.close(lambda: "end") for lane in lanes]
        assert [future.result(timeout=10) for future in done] == ["end"] * 3
    for offset in range(3):
        assert [n for n in seen if n % 3 == offset] == list(range(offset, 60, 3))
    assert most == [1, 1, 1]


def test_a_refused_page_skips_the_later_pages_and_the_final_task_still_runs():
    ran = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        lane = LandingLane(pool)
        lane.put(lambda: ran.append(1))

        def refuse():
            raise FetchError("page 2 is malformed")

        lane.put(refuse)
        lane.put(lambda: ran.append(3))
        done = lane.close(lambda: (ran.append("final"), str(lane.error))[1])
        assert done.result(timeout=10) == "page 2 is malformed"
    assert ran == [1, "final"]
    assert lane.failed


def test_a_full_disk_skips_everything_after_it_and_is_the_lanes_exception():
    ran = []

    def full():
        raise StorageError("no space left on device", "/out/landing/page-00002.json")

    lane = LandingLane(None)  # without a pool: each task runs at once, in the caller's thread
    lane.put(lambda: ran.append(1))
    lane.put(full)
    assert lane.failed
    lane.put(lambda: ran.append(3))
    done = lane.close(lambda: ran.append("final"))
    with pytest.raises(StorageError, match="page-00002.json"):
        done.result(timeout=1)
    assert ran == [1]
