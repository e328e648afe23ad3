"""Scale-out: a flow's engine batches as Ray tasks (`prefect-ray`), or on the default thread pool.

With `--runner ray` every `generate-batch` task runs in a Ray worker process. Workers are stateless: each builds
its engine from the config once per worker process (tasks/generate.py `worker_engine`; Ray reuses its workers)
and sends its answers back (on the thread pool a task runs on the runner's own engine object); the flow
process alone reads and writes the catalog and the call cache. Tasks reserve the resources their engine config
asks for (`num_gpus` on vLLM engines).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Literal

from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture
from prefect.utilities.annotations import quote

from ..engines.base import Engine
from ..schemas.engine import EngineConfig, GenRequest
from ..tasks.generate import Answer, Followup, generate_batch, report_progress

Runner = Literal["threads", "ray"]


class RunnerError(RuntimeError):
    """A task runner cannot be used (prefect-ray not installed, ...)."""


def ray_options(config: EngineConfig) -> dict[str, Any]:
    """Ray resources of one batch task on this engine."""
    gpus = getattr(config, "num_gpus", None)
    if gpus is None:
        gpus = getattr(config, "tensor_parallel_size", 0)  # a vLLM model needs one GPU per shard
    if not gpus:
        return {}
    # Ray ends a GPU task's worker after one call by default (max_calls=1), which would load the model again
    # for every batch; the model is the state worth keeping.
    return {"num_gpus": gpus, "max_calls": 0}


def on_ray() -> bool:
    """Whether the running flow sends its tasks to Ray (checked by module, so prefect-ray need not be installed)."""
    runner = getattr(FlowRunContext.get(), "task_runner", None)
    return type(runner).__module__.split(".")[0] == "prefect_ray"


def submit_batch(config: EngineConfig, engine: Engine, batch: list[GenRequest], stage: str,
                 followup: Followup | None) -> PrefectFuture:
    """`generate_batch.submit`, placed for the flow's task runner: on the thread pool with the runner's `engine`;
    on Ray with the config only (the worker builds its own engine)."""
    if not on_ray():
        # quote(): Prefect would otherwise walk every request of the batch looking for futures (twice)
        return generate_batch.submit(config, quote(batch), stage, followup, quote(engine))
    from prefect_ray.context import remote_options

    # No quote() here: Prefect 3.9's annotations do not survive pickling (quote(x) comes back as quote((x,))).
    with remote_options(**ray_options(config)):
        return generate_batch.submit(config, batch, stage, followup)


def batch_returned(stage: str, answers: list[Answer]) -> None:
    """A batch is back in the flow process. On Ray its worker reported progress to nobody: report it here."""
    if on_ray():
        report_progress(stage, answers)


def ray_task_runner(address: str | None):
    """A `RayTaskRunner`: on the cluster at `address`, or on a Ray instance started for this run."""
    if address is None:
        # A Ray started for one run serves this machine only: single-machine mode keeps every Ray server on
        # 127.0.0.1 (otherwise Ray binds the machine's reachable address). Read when ray is first imported.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        from prefect_ray import RayTaskRunner
    except ImportError as exc:
        raise RunnerError("--runner ray needs prefect-ray and ray: pip install 'prefsynth[ray]'") from exc
    # Worker output stays in Ray's logs: streamed to this process it would mix into the progress bars and --json.
    init_kwargs: dict[str, Any] = {"log_to_driver": False}
    if address is None:
        init_kwargs["include_dashboard"] = False
    return RayTaskRunner(address=address, init_kwargs=init_kwargs)


@contextmanager
def prefect_api_for_workers() -> Iterator[None]:
    """Give Ray workers the flow's Prefect API.

    Without PREFECT_API_URL, Prefect starts a temporary server per process: each Ray worker would start its own
    (seconds each, on the same database file) and report task runs there. Instead the flow process starts its
    temporary server now, and its URL reaches the workers in the settings every task carries. The server listens
    on 127.0.0.1: on a cluster of several machines, set PREFECT_API_URL to a server they can all reach.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the same instance Prefect's client would start for this process
    server.start()
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield


def with_runner(flow_fn: Callable, runner: Runner, address: str | None = None) -> Callable:
    """`flow_fn` set to run its tasks on `runner`; the thread pool (the flow's own default) when "threads"."""
    if runner == "threads":
        if address:
            raise RunnerError("--ray-address needs --runner ray")
        return flow_fn
    ray_flow = flow_fn.with_options(task_runner=ray_task_runner(address))

    def run(*args, **kwargs):
        with prefect_api_for_workers():
            return ray_flow(*args, **kwargs)

    return run
