# SPDX-License-Identifier: GPL-2.0-or-later
"""python3 -m barlab: the same as scripts/barlab."""
import sys

from barlab.cli import main

sys.exit(main())
