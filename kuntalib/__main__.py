"""``python -m kuntalib``."""

import sys

from kuntalib.cli import main

if __name__ == "__main__":  # not when a build worker started by "spawn" (Windows, macOS) imports this module
    sys.exit(main())
