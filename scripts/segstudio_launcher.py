"""PyInstaller entry point of the packaged app: one executable for the GUI and every CLI verb.

``dist/segstudio/segstudio`` with no arguments (or a folder) opens the desktop app; with a verb
(``batch``, ``eval``, ``export``, ``train``, ``doctor`` …) it runs that verb in-process, exactly
like the ``segstudio`` console script (``segstudio.cli:main``).
"""

import multiprocessing
import sys


def _run() -> int:
    # A frozen executable re-launches itself for multiprocessing children (spawn/forkserver);
    # freeze_support() makes such a child run its task instead of the CLI.
    multiprocessing.freeze_support()
    from segstudio.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_run())
