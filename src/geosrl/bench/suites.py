"""The real :class:`~geosrl.bench.runner.Backend` of each suite and experiment, wired to geosrl's data and protocols."""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path
from typing import Callable

from .config import BenchConfig
from .runner import Backend

__all__ = ["default_backend", "fewshot_methods", "prepare_fewshot"]


def fewshot_methods() -> list[str]:
    """The "encoders" of a few-shot grid: the methods of :mod:`geosrl.tasks.fewshot`."""
    from geosrl.tasks.fewshot import METHODS

    return list(METHODS)


def default_backend(config: BenchConfig) -> Backend:
    """Backend of ``config``: its suite's task list and loader, the experiment's protocol and encoder names.

    Offline tasks: :func:`geosrl.datasets.load_offline_task` (derived samples cached under ``cache_dir``);
    LocBench: :mod:`geosrl.bench.locbench_suite`. Experiment ``encoders`` runs :func:`geosrl.tasks.run_task`
    over the encoder registry; ``fewshot`` runs :func:`geosrl.tasks.fewshot.run_fewshot_cell` over the
    few-shot methods. A missing data package or file (:class:`~geosrl.datasets.DataUnavailableError`)
    skips the task with its reason.
    """
    import geosrl
    from geosrl.datasets import DataUnavailableError

    if config.suite == "offline":
        from geosrl.datasets import list_offline_tasks, load_offline_task
        from geosrl.tasks import run_task

        list_tasks, load_task = list_offline_tasks, partial(load_offline_task, cache_dir=config.cache_dir)
    else:
        from geosrl.bench import locbench_suite

        list_tasks, load_task = locbench_suite.list_tasks, partial(locbench_suite.load_task, root=config.root)
        run_task = locbench_suite.run_task
    if config.experiment == "fewshot":
        from geosrl.tasks.fewshot import run_fewshot_cell

        from geosrl.tasks.fewshot import resolve_fewshot_config

        return Backend(list_tasks=list_tasks, load_task=load_task, run_task=run_fewshot_cell,
                       list_encoders=fewshot_methods, skip_errors=(DataUnavailableError,),
                       check_protocol=resolve_fewshot_config)
    from geosrl.tasks import BASELINES, resolve_config

    return Backend(list_tasks=list_tasks, load_task=load_task, run_task=run_task, list_encoders=geosrl.list_encoders,
                   skip_errors=(DataUnavailableError,), check_protocol=resolve_config, baselines=BASELINES)


def prepare_fewshot(config: BenchConfig, out: Path, log: Callable[[str], None] = print) -> BenchConfig:
    """The few-shot ``config`` with its pre-trained encoder fixed: ``[protocol] pretrained`` and its hash.

    Without ``[protocol] pretrained``, the location encoder is pre-trained first with the ``[pretrain]``
    table into ``OUT/pretrain`` (resumable, like the grid). The checkpoint's ``tensors_sha256`` enters
    the cells' fingerprint, so a resumed or merged run refuses cells made with another encoder.
    Before any work, every task is checked against the pre-training contexts
    (:func:`geosrl.tasks.fewshot.check_target_contexts`): a task whose target is a context is refused
    (``ConfigError``) unless ``[protocol] target_context = "label"``.
    Other experiments are returned unchanged.
    """
    if config.experiment != "fewshot":
        return config
    from geosrl.encoders import read_card
    from geosrl.tasks.fewshot import check_target_contexts, resolve_fewshot_config

    policy = resolve_fewshot_config(config.protocol)["target_context"]
    tasks = _fewshot_tasks(config)
    source = config.protocol.get("pretrained")
    if not source:
        from geosrl.pretrain.contexts import context_card
        from geosrl.pretrain.train import pretrain, resolve_pretrain_config

        pcfg = dict(config.pretrain)
        pcfg.setdefault("seed", 0)
        if config.cache_dir is not None:
            pcfg.setdefault("data", {}).setdefault("cache_dir", config.cache_dir)
        planned = resolve_pretrain_config(pcfg)["data"]["contexts"]
        check_target_contexts(tasks, {"training_data": {"contexts": context_card(planned)}}, policy)
        log(f"pre-training the location encoder into {Path(out) / 'pretrain'} (resumable)")
        source = str(pretrain(pcfg, out_dir=Path(out) / "pretrain", resume=True, log=log).encoder_path)
    card = read_card(source)
    found = check_target_contexts(tasks, card, policy)
    for task, names in found.items():
        if names:
            log(f"{task}: WITH TARGET CONTEXT {names} (pre-training saw its target; not transfer)")
    protocol = {**config.protocol, "pretrained": str(source), "pretrained_sha256": card.get("tensors_sha256")}
    return dataclasses.replace(config, protocol=protocol)


def _fewshot_tasks(config: BenchConfig) -> list[str]:
    """The tasks a few-shot grid will run: ``[bench] tasks``, or every task of the suite."""
    if config.tasks:
        return list(config.tasks)
    if config.suite == "offline":
        from geosrl.datasets import list_offline_tasks

        return list_offline_tasks()
    from geosrl.bench import locbench_suite

    return list(locbench_suite.list_tasks())
