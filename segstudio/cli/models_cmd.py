"""``segstudio models``: list the architectures with their parameter counts (and, asked, CPU latency)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the segmentation architectures",
                       description="List every architecture with its default options and parameter count "
                                   "(computed on the meta device: nothing is allocated).")
    p.add_argument("--classes", type=int, default=11, help="class count for the parameter counts (default 11)")
    p.add_argument("--latency", action="store_true",
                   help="also measure each architecture's CPU latency on a 480×360 image (random weights, "
                        "best of 2; takes a minute or more)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads for --latency")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segstudio.models.registry import available
    from segstudio.models.summary import parameter_count

    if args.latency and args.threads:
        import torch

        torch.set_num_threads(args.threads)
    lat = f" {'CPU ms':>8s}" if args.latency else ""
    print(f"{'architecture':15s} {'params':>9s} {'fp32 MB':>8s}{lat}  description (parameters for {args.classes} classes"
          + (", latency at 480×360" if args.latency else "") + ")")
    for s in available():
        n = parameter_count(s.name, args.classes)
        opts = ", ".join(f"{k}={v}" for k, v in s.defaults.items())
        ms = ""
        if args.latency:
            from segstudio.models.summary import cpu_latency

            ms = f" {1000 * cpu_latency(s.name, args.classes):8.0f}"
        print(f"{s.name:15s} {n / 1e6:8.2f}M {n * 4 / 2**20:8.1f}{ms}  {s.summary}" + (f" [{opts}]" if opts else ""),
              flush=True)
    return 0
