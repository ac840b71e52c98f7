"""``python -m kuntalib``."""

import sys

from kuntalib.cli import main

sys.exit(main())
