"""``geosrl pretrain --config FILE`` and ``geosrl fewshot --config FILE``.

Wire into the main CLI with::

    from geosrl.pretrain.cli import add_subcommands
    add_subcommands(subparsers)          # subparsers = parser.add_subparsers(dest="command")
    ...
    args = parser.parse_args(argv); return args.func(args)

Config files are TOML (``.toml``) or JSON (``.json``). A pre-training file holds the keys of
:func:`geosrl.pretrain.train.resolve_pretrain_config` (top level or under ``[pretrain]``); a few-shot file
holds those of :func:`geosrl.pretrain.fewshot.resolve_fewshot_config` (top level or under ``[fewshot]``),
and may carry a ``[pretrain]`` table for the encoder it pre-trains first. Both commands resume from
their output folder; ``--no-resume`` starts afresh.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..config import load_config_file

__all__ = ["add_subcommands", "cmd_fewshot", "cmd_pretrain"]


def cmd_pretrain(args: argparse.Namespace) -> int:
    """Run :func:`geosrl.pretrain.train.pretrain` from ``--config`` (+ ``--out``, ``--profile``, ``--device``)."""
    from .train import pretrain

    raw = load_config_file(args.config)
    cfg = dict(raw.get("pretrain", raw))
    if args.profile:
        cfg["profile"] = args.profile
    if args.device:
        cfg["device"] = args.device
    res = pretrain(cfg, out_dir=args.out, resume=not args.no_resume)
    if res.encoder_path is not None:
        print(f"wrote {res.encoder_path}")
    return 0


def cmd_fewshot(args: argparse.Namespace) -> int:
    """Run :func:`geosrl.pretrain.fewshot.run_fewshot` from ``--config`` (+ ``--out``, ``--profile``)."""
    from .fewshot import run_fewshot

    raw = load_config_file(args.config)
    cfg = dict(raw.get("fewshot", {k: v for k, v in raw.items() if k != "pretrain"}))
    if "pretrain" in raw and "pretrain" not in cfg:
        cfg["pretrain"] = raw["pretrain"]
    if args.profile:
        cfg["profile"] = args.profile
    if args.device:
        cfg["device"] = args.device
    res = run_fewshot(cfg, out_dir=args.out, resume=not args.no_resume)
    print(f"wrote {res['summary_path']}")
    return 0


def add_subcommands(subparsers: Any) -> None:
    """Register ``pretrain`` and ``fewshot`` on an ``argparse`` sub-parsers object (sets ``func``)."""
    for name, fn, helptext in (
        ("pretrain", cmd_pretrain, "contrastive spatial pre-training (CSP) of a location encoder"),
        ("fewshot", cmd_fewshot, "CSP few-shot protocol: scratch vs pretrained (probe, fine-tune) vs GeoCLIP"),
    ):
        p = subparsers.add_parser(name, help=helptext, description=helptext)
        p.add_argument("--config", default=None, help="TOML or JSON config file")
        p.add_argument("--out", default=None, help="output folder (default: from the config, or runs/<cmd>-<profile>)")
        p.add_argument("--profile", choices=["quick", "full"], default=None, help="override the config's profile")
        p.add_argument("--device", default=None, help="cpu, cuda or auto")
        p.add_argument("--no-resume", action="store_true", help="ignore finished work in the output folder")
        p.set_defaults(func=fn)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry: ``python -m geosrl.pretrain.cli {pretrain,fewshot} --config FILE``."""
    parser = argparse.ArgumentParser(prog="python -m geosrl.pretrain.cli")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
