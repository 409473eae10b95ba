"""The model thread: the only thread that ever touches the model (and so its onnxruntime session).

Requests become jobs - a function of the model - in a bounded FIFO queue; the thread runs them one
at a time, so no two generations ever share or interleave a KV cache. A job whose deadline passed
while it waited is not started. Closing lets queued and running jobs finish.
"""
from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from reviewbot.server.metrics import Metrics


class QueueFull(Exception):
    """The queue holds as many jobs as it may: answer 429."""


class Unavailable(Exception):
    """Shutting down, or the model is not loaded: answer 503."""


class DeadlineExpired(Exception):
    """The job's deadline passed before the model thread reached it."""


@dataclasses.dataclass
class Job:
    run: Callable[[Any], Any]  # called with the (metered) model on the model thread
    deadline: float | None  # time.monotonic()
    future: concurrent.futures.Future


class MeteredModel:
    """The engine model as jobs see it: generate() is counted in the metrics; the rest passes through."""

    def __init__(self, model: Any, metrics: Metrics) -> None:
        self._model = model
        self._metrics = metrics

    def generate(self, prompt: str, *args: Any, **kwargs: Any) -> Any:
        result = self._model.generate(prompt, *args, **kwargs)
        self._metrics.count_generation(result.prompt_tokens, len(result.token_ids),
                                       result.prefill_seconds, result.decode_seconds)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class ModelWorker:
    def __init__(self, load: Callable[[], Any], queue_size: int, metrics: Metrics,
                 on_thread_start: Callable[[Any], None] | None = None) -> None:
        self._load = load
        self.capacity = queue_size
        self.metrics = metrics
        self._on_thread_start = on_thread_start
        self._pending: collections.deque[Job] = collections.deque()
        self._cond = threading.Condition()
        self._closing = False
        self._running = 0
        self._loaded = threading.Event()
        self.model: Any = None
        self.load_error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name='reviewbot-model', daemon=True)

    # -- called from other threads -----------------------------------------------------------
    def start(self) -> None:
        """Start the thread and wait until the model is loaded; re-raise a load failure."""
        self._thread.start()
        self._loaded.wait()
        if self.load_error is not None:
            raise self.load_error

    def submit(self, run: Callable[[Any], Any], deadline: float | None = None) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._cond:
            if self._closing:
                raise Unavailable('the server is shutting down')
            if self.model is None:
                raise Unavailable('the model is not loaded')
            if len(self._pending) >= self.capacity:
                raise QueueFull(f'the queue is full ({self.capacity} waiting)')
            self._pending.append(Job(run, deadline, future))
            self._cond.notify()
        return future

    @property
    def depth(self) -> int:
        with self._cond:
            return len(self._pending)

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._running

    @property
    def closing(self) -> bool:
        return self._closing

    def close(self, timeout: float | None = None) -> None:
        """Refuse new jobs, let queued and running ones finish, then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the model thread --------------------------------------------------------------------
    def _main(self) -> None:
        try:
            raw = self._load()
        except BaseException as e:  # reported by start() in the caller's thread
            self.load_error = e
            self._loaded.set()
            return
        model = MeteredModel(raw, self.metrics)
        if self._on_thread_start is not None:
            self._on_thread_start(model)
        with self._cond:
            self.model = model
        self._loaded.set()
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:  # closing and drained
                    return
                job = self._pending.popleft()
                self._running = 1
            try:
                self._run(job, model)
            finally:
                with self._cond:
                    self._running = 0

    def _run(self, job: Job, model: MeteredModel) -> None:
        if not job.future.set_running_or_notify_cancel():
            return  # the client went away while the job waited
        if job.deadline is not None and time.monotonic() >= job.deadline:
            job.future.set_exception(DeadlineExpired('the request timed out waiting in the queue'))
            return
        t0 = time.perf_counter()
        try:
            result = job.run(model)
        except BaseException as e:  # delivered to the request handler, which maps it to a status
            job.future.set_exception(e)
        else:
            job.future.set_result(result)
        finally:
            self.metrics.count_job(time.perf_counter() - t0)
