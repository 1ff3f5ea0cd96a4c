# SPDX-License-Identifier: GPL-2.0-or-later
"""barlab's host side: the command line, the builds and their cache, the
machines it starts, the matrix, the full stack, the reports and the tests'
runner.  `scripts/barlab` is the entry point; docs/architecture.md says
which module owns which fact."""
