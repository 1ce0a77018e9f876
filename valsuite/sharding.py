"""Spreading a sweep: deterministic slices for many machines (--shard K/N) and one process per GPU
on one machine (--gpus all|0,1).

--shard K/N (K counts from 0, as SLURM array task ids from 0 and Kubernetes completion indexes do):
every machine builds the same configuration list, sorts it by a canonical key and takes every
N-th entry starting at K. So slices are disjoint, cover the list exactly once, differ in size by at
most one, interleave cheap and expensive configurations, and do not depend on the order in which
the list was built. The cluster's own scheduler starts the N shards; `--report` merges the records
they write to shared storage (it already groups them by machine).

--gpus: one worker thread per GPU pulls the next configuration from a shared queue and runs it in a
child process whose CUDA_VISIBLE_DEVICES names that GPU alone, so the child sees it as cuda:0 and
its record is that of a serial run except for timings and the device index it notes.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

from valsuite.errors import ValsuiteError

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Shard:
    index: int        # K, from 0
    count: int        # N

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """'K/N' with 0 <= K < N."""
    parts = str(text).strip().split("/")
    try:
        index, count = (int(p) for p in parts)
    except ValueError:
        raise ValsuiteError(f"--shard must be K/N (e.g. 0/4), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValsuiteError(f"--shard {text}: need N >= 1 and 0 <= K < N (K counts from 0)")
    return Shard(index, count)


def shard_items(items: Sequence[T], shard: Shard, key: Callable[[T], str] = repr) -> list[T]:
    """This shard's items, in their original order; membership from the sorted canonical keys."""
    keys = [key(item) for item in items]
    if len(set(keys)) != len(keys):
        raise ValsuiteError("two sweep configurations have the same key: cannot shard deterministically")
    order = sorted(range(len(items)), key=keys.__getitem__)
    mine = set(order[shard.index::shard.count])
    return [item for i, item in enumerate(items) if i in mine]


def visible_gpus(count: int | None = None) -> list[str]:
    """Physical ids of the GPUs this process may use: CUDA_VISIBLE_DEVICES if set, else 0..count-1."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip()]
    if count is None:
        import torch

        count = torch.cuda.device_count()
    return [str(i) for i in range(count)]


def parse_gpus(text: str, visible: list[str] | None = None) -> list[str]:
    """'all' or '0,1' (indexes among the visible GPUs, as torch numbers them) -> physical ids."""
    visible = visible_gpus() if visible is None else visible
    if not visible:
        raise ValsuiteError("--gpus: no CUDA GPU is visible here")
    if str(text).strip() == "all":
        return list(visible)
    try:
        wanted = [int(p) for p in str(text).split(",") if p.strip()]
    except ValueError:
        raise ValsuiteError(f"--gpus must be 'all' or a list like 0,1, got {text!r}") from None
    bad = [i for i in wanted if not 0 <= i < len(visible)]
    if not wanted or bad or len(set(wanted)) != len(wanted):
        raise ValsuiteError(f"--gpus {text}: {len(visible)} GPU(s) visible (0..{len(visible) - 1}), each once")
    return [visible[i] for i in wanted]


def pinned_env(gpu: str, base: dict | None = None) -> dict:
    """The child's environment: only `gpu` visible (it becomes cuda:0 there)."""
    env = dict(os.environ if base is None else base)
    env["CUDA_VISIBLE_DEVICES"] = gpu
    return env


def run_on_gpus(jobs: Sequence[T], gpus: Sequence[str], run: Callable[[T, dict, str], R]) -> list[R]:
    """run(job, env, gpu) for every job, one job per GPU at a time, results in job order.

    An exception in one job is re-raised after the others finished (a sweep's own runner turns
    child crashes into failure records, so this is for bugs, not for crashed children)."""
    if not gpus:
        raise ValsuiteError("--gpus: no GPU to run on")
    todo: queue.Queue = queue.Queue()
    for index, job in enumerate(jobs):
        todo.put((index, job))
    results: list = [None] * len(jobs)
    errors: list = []

    def worker(gpu: str) -> None:
        env = pinned_env(gpu)
        while True:
            try:
                index, job = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = run(job, env, gpu)
            except BaseException as exc:  # re-raised in the caller below
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(gpu,), name=f"valsuite-gpu{gpu}") for gpu in gpus]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
