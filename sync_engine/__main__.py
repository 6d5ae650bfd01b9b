"""`python -m sync_engine`: the headless command line (SPEC section 6)."""

from __future__ import annotations

import sys

from sync_engine.cli import main

if __name__ == "__main__":
    sys.exit(main())
