"""``python -m segstudio`` entry point (same as the ``segstudio`` console script)."""

import sys

from segstudio.cli import main

if __name__ == "__main__":
    sys.exit(main())
