"""``segstudio batch``: predict a mask PNG for every image of a folder (logic in ``models.batch``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segstudio.cli.predict_options import add_model_options, build_predictor, describe, run_images


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="predict masks for a folder of images",
                       description="Write OUT_DIR/<stem>.png (indexed palette PNG) for every image in "
                                   "INPUT_DIR with a segmentation model. Exit status 1 if any image failed.")
    p.add_argument("input", type=Path, metavar="INPUT_DIR", help="folder of images (or one image file)")
    p.add_argument("--out", required=True, type=Path, metavar="OUT_DIR", help="folder for the masks")
    p.add_argument("--resume", action="store_true", help="skip images whose mask already exists")
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segstudio.core.images import is_image_file

    if args.input.is_file() and is_image_file(args.input):
        images = [args.input]
    else:  # entries that are not readable images are skipped and reported (issue 14)
        from segstudio.core.images import scan_image_names

        listing = scan_image_names(args.input)
        images = [args.input / n for n in listing.names]
        for line in listing.messages():
            print(f"segstudio batch: warning: {line}", file=sys.stderr)
        if not images:
            from segstudio.core.images import no_images_error

            raise no_images_error(args.input, len(listing.skipped))
    predictor = build_predictor(args)
    describe(args, predictor, len(images), args.out)
    result = run_images(args, predictor, images, args.out, resume=args.resume)
    print(result.summary())
    return 1 if result.failed else 0
