"""The forked shard processes and their pipes: starting them, asking them, and never leaving one behind."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
from collections.abc import Callable
from multiprocessing.connection import Connection

from netscope.capture.errors import CaptureError
from netscope.pipeline.worker import FinishRequest, WorkerFailed, WorkerFinal

JOIN_TIMEOUT_S = 10.0


def worker_count(configured: int) -> int:
    """`pipeline.workers`, or 0 = auto: half the cores, 1..8 (reference §6.3)."""
    return configured if configured > 0 else min(max((os.cpu_count() or 2) // 2, 1), 8)


def _run_worker(target: Callable, parent_ends: list[Connection], args: tuple) -> None:
    """Close the reader's pipe ends a forked worker inherited, so closing them ends the worker (EOF)."""
    for conn in parent_ends:
        conn.close()
    target(*args)


class PipelineError(CaptureError):
    """A shard failed or vanished; str() is one line naming the worker."""


class Workers:
    """The forked shard processes and their pipes; stops them, and never leaves one behind.

    A worker that fails is remembered and asked nothing more, so the others can still hand
    over their part at the end of the run.
    """

    def __init__(self) -> None:
        self.processes: list[mp.Process] = []
        self.conns: list[Connection] = []
        self.finals: list[WorkerFinal] = []
        self.failed: dict[int, PipelineError] = {}

    def start(self, target: Callable, args_for: Callable[[int, Connection], tuple], count: int) -> None:
        ctx = mp.get_context("fork")
        for index in range(count):
            mine, theirs = ctx.Pipe()
            process = ctx.Process(target=_run_worker, args=(target, [*self.conns, mine], args_for(index, theirs)),
                                  name=f"netscope-worker-{index}", daemon=False)
            process.start()
            theirs.close()
            self.processes.append(process)
            self.conns.append(mine)

    def send(self, index: int, message: object) -> None:
        try:
            self.conns[index].send(message)
        except OSError:
            raise self._failure(index, None) from None

    def receive(self, index: int) -> object:
        try:
            message = self.conns[index].recv()
        except (EOFError, OSError):
            raise self._failure(index, None) from None
        if isinstance(message, WorkerFailed):
            raise self._failure(index, message.error)
        return message

    def ask_all(self, message: object) -> list:
        """Every worker's answer, in worker order; raises the first failure (the run cannot go on).

        The healthy workers' answers are read even then, so none is left in a pipe to be
        mistaken for the answer to a later request.
        """
        answers = self.ask_healthy(message)
        if self.failed:
            raise next(iter(self.failed.values()))
        return answers

    def ask_healthy(self, message: object) -> list:
        """The answers of the workers that have not failed; new failures go into `failed`."""
        asked = []
        for index in range(len(self.conns)):
            if index not in self.failed:
                try:
                    self.send(index, message)
                    asked.append(index)
                except PipelineError as exc:
                    self.failed[index] = exc
        answers = []
        for index in asked:
            try:
                answers.append(self.receive(index))
            except PipelineError as exc:
                self.failed[index] = exc
        return answers

    def check_alive(self) -> None:
        for index, process in enumerate(self.processes):
            if not process.is_alive():
                raise self._failure(index, None)

    def _failure(self, index: int, error: str | None) -> PipelineError:
        if error is None:
            error = self._last_words(index)
        return PipelineError(f"pipeline worker {index} failed: {error or 'the process ended unexpectedly'}")

    def _last_words(self, index: int) -> str | None:
        """The error a worker sent before it ended, if it is still in the pipe (a live worker
        whose capture failed reports so unasked, then exits)."""
        conn = self.conns[index] if index < len(self.conns) else None
        with contextlib.suppress(EOFError, OSError):  # a pipe already closed holds nothing more
            while conn is not None and conn.poll():
                message = conn.recv()
                if isinstance(message, WorkerFailed):
                    return message.error
        return None

    def finish(self) -> list[WorkerFinal]:
        """Collect the healthy workers' final tables (once), then join them all."""
        if not self.finals and self.processes:
            try:
                self.finals = self.ask_healthy(FinishRequest())
            finally:
                self.stop()
        return self.finals

    def stop(self) -> None:
        for conn in self.conns:
            conn.close()
        for process in self.processes:
            process.join(JOIN_TIMEOUT_S)
            if process.is_alive():
                process.kill()
                process.join()
        self.conns = []
        self.processes = []
