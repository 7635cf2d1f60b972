"""``segstudio accept FOLDER``: stored predictions become masks (logic in ``core.accept``).

Images the user edited or reviewed (or that have a mask) are never touched. ``--crf`` refines
each prediction with the dense CRF from the probabilities ``segstudio predict --save-probs``
stored. ``--undo`` reverts the last accept (masks still as accepted are removed, statuses restored).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segstudio.core.errors import SegStudioError

ONLY = {"predicted": ("predicted",), "all": None}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("accept", help="accept stored predictions as masks (never over the user's masks)",
                       description="Write each stored prediction of FOLDER as the image's mask (status "
                                   "'edited', so `segstudio export` takes it). Images the user edited or "
                                   "reviewed are skipped. Exit status 1 if any image failed.")
    p.add_argument("folder", type=Path, metavar="FOLDER", help="project folder (images + segstudio/)")
    p.add_argument("--only", choices=tuple(ONLY), default="predicted",
                   help="predicted (default): images whose status is 'predicted'; all: any image with a "
                        "prediction and no user mask")
    p.add_argument("--crf", action="store_true",
                   help="refine with the dense CRF first (needs probabilities from `predict --save-probs`)")
    p.add_argument("--crf-params", type=Path, default=None, help="JSON object of CRF parameters")
    p.add_argument("--undo", action="store_true", help="revert the last accept instead")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segstudio.cli.predict_options import crf_params
    from segstudio.core import accept
    from segstudio.core.project import Project, Status

    project = Project(args.folder)
    if not args.undo:
        project.require_images()
    if args.undo:
        res = accept.revert_accept(project)
        print(f"reverted {res.record.name}: {len(res.accepted)} masks removed, {len(res.skipped)} kept"
              + "".join(f"\n  kept {k}: {why}" for k, why in res.skipped))
        return 0
    only = ONLY[args.only]
    plan = accept.plan_accept(project, only=None if only is None else tuple(Status(s) for s in only))
    crf = crf_params(args)
    if crf is not None:
        missing = [k for k in plan.keys if not accept.probs_path(project, k).exists()]
        if missing:
            raise SegStudioError(f"{accept.probs_path(project, missing[0])} (and {len(missing) - 1} more): "
                                 f"{accept.NEEDS_PROBS}")
    last = [-1.0]

    def progress(done: int, total: int, key: str) -> None:
        import time

        now = time.monotonic()
        if not args.quiet and (now - last[0] > 2.0 or done == total):
            last[0] = now
            print(f"accept {done}/{total} {key}", file=sys.stderr)

    res = accept.accept_predictions(project, plan.keys, crf=crf, progress=progress)
    print(res.summary() + f"; {len(plan.skipped)} images left as they are (the user's masks, no prediction "
                          f"or not selected)")
    return 1 if res.failed else 0
