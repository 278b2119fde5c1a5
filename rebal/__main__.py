"""`python -m rebal` runs the command line."""

from __future__ import annotations

import sys

from rebal.cli import main

sys.exit(main())
