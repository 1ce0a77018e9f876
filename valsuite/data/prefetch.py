"""In-order prefetching on threads: host reads and GPU decode run while the model computes.

Threads, not processes, because the work is memcpy (numpy and torch release the GIL) or CUDA
calls whose results must stay in this process. Results come back in input order; an exception
in a thread is re-raised in the caller at the item where it happened.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_prefetch(items: Iterable[T], fn: Callable[[T], R], threads: int = 1,
                     depth: int = 2) -> Iterator[R]:
    """Yield fn(item) for each item in order, with up to `depth` calls running ahead.

    threads=0 runs everything in the caller's thread (no overlap; the reference behaviour).
    """
    if threads <= 0:
        for item in items:
            yield fn(item)
        return
    pending: deque = deque()
    source = iter(items)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="valsuite-prefetch") as pool:
        try:
            for item in source:
                pending.append(pool.submit(fn, item))
                if len(pending) >= depth:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def background(items: Iterable[T], fn: Callable[[T], R], depth: int = 2) -> Iterator[R]:
    """fn over an iterator that must be consumed by one thread (a DataLoader): one worker thread.

    The thread pulls the next item and applies fn while the caller uses the previous result.
    """
    source = iter(items)
    sentinel = object()

    def step(_):
        item = next(source, sentinel)
        return sentinel if item is sentinel else fn(item)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="valsuite-stage") as pool:
        pending: deque = deque(pool.submit(step, None) for _ in range(depth))
        try:
            while True:
                result = pending.popleft().result()
                if result is sentinel:
                    break
                pending.append(pool.submit(step, None))
                yield result
        finally:
            for future in pending:
                future.cancel()
