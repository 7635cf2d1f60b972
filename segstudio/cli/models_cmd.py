"""``segstudio models``: list the architectures with their parameter counts."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the segmentation architectures",
                       description="List every architecture with its default options and parameter count "
                                   "(computed on the meta device: nothing is allocated).")
    p.add_argument("--classes", type=int, default=11, help="class count for the parameter counts (default 11)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segstudio.models.registry import available
    from segstudio.models.summary import parameter_count

    print(f"{'architecture':15s} {'params':>9s} {'fp32 MB':>8s}  description (parameters for {args.classes} classes)")
    for s in available():
        n = parameter_count(s.name, args.classes)
        opts = ", ".join(f"{k}={v}" for k, v in s.defaults.items())
        print(f"{s.name:15s} {n / 1e6:8.2f}M {n * 4 / 2**20:8.1f}  {s.summary}" + (f" [{opts}]" if opts else ""))
    return 0
