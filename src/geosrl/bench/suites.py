"""The real :class:`~geosrl.bench.runner.Backend` of each suite, wired to geosrl's datasets and protocols."""

from __future__ import annotations

from functools import partial

from .config import BenchConfig
from .runner import Backend

__all__ = ["default_backend"]


def default_backend(config: BenchConfig) -> Backend:
    """Backend of ``config.suite``: its task list and loader, its protocol runner, the encoder registry.

    Offline tasks: :func:`geosrl.datasets.load_offline_task` (derived samples cached under ``cache_dir``) and
    :func:`geosrl.tasks.run_task`; LocBench: :mod:`geosrl.bench.locbench_suite`. A missing data package or
    file (:class:`~geosrl.datasets.DataUnavailableError`) skips the task with its reason.
    """
    import geosrl
    from geosrl.datasets import DataUnavailableError

    if config.suite == "offline":
        from geosrl.datasets import list_offline_tasks, load_offline_task
        from geosrl.tasks import run_task

        return Backend(
            list_tasks=list_offline_tasks,
            load_task=partial(load_offline_task, cache_dir=config.cache_dir),
            run_task=run_task,
            list_encoders=geosrl.list_encoders,
            skip_errors=(DataUnavailableError,),
        )
    from geosrl.bench import locbench_suite

    return Backend(
        list_tasks=locbench_suite.list_tasks,
        load_task=partial(locbench_suite.load_task, root=config.root),
        run_task=locbench_suite.run_task,
        list_encoders=geosrl.list_encoders,
        skip_errors=(DataUnavailableError,),
    )
