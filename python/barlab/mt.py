# SPDX-License-Identifier: GPL-2.0-or-later
"""The commands that are barlab-mt's own (explain, oracle, model, trace,
patterns): barlab-mt, built first if needed, does the work and checks its
arguments."""

import os

from . import core
from .cli import Command

USAGE_EXPLAIN = """\
usage: scripts/barlab explain S1ATTR S2ATTR [--fwb] [--json]
       scripts/barlab explain --table --json
what a stage-1 MAIR attribute over a stage-2 MemAttr gives
  S1ATTR S2ATTR       encodings (0x44 0x1) or names (normal-NC device-nGnRE)
  --fwb               stage 2 in the FEAT_S2FWB form
  --json              one JSON object
  --table --json      every S1 x S2 x FWB cell, one JSON object a line
"""

USAGE_ORACLE = """\
usage: scripts/barlab oracle FILE [--json]
predictions for a scenario file (target-tests/scenarios, docs/scenarios.md)
  --json              one JSON object a cell (what 'matrix' compares with)
"""

USAGE_MODEL = """\
usage: scripts/barlab model PATTERN S1ATTR S2ATTR [--fwb] [--reorder SEED] [--trace FILE]
run a pattern through the gather/reorder model and the checker, without QEMU
  PATTERN             an access pattern ('barlab patterns')
  --reorder SEED      let the model reorder what the rules permit (seeded)
  --trace FILE        write the transactions as a device trace
"""

USAGE_TRACE = """\
usage: scripts/barlab trace FILE [--json]
dump a device trace (barlab-gpu's or barlab-nic's trace= file)
  --json              one JSON object a record
"""

USAGE_PATTERNS = """\
usage: scripts/barlab patterns
list the access patterns
"""


def _runner(name):
    def run(args):
        if not os.access(core.mt_path(), os.X_OK):
            core.build()
        mt = str(core.mt_path())
        os.execv(mt, [mt, name] + list(args))
    return run


COMMANDS = [
    Command("explain", USAGE_EXPLAIN, _runner("explain")),
    Command("oracle", USAGE_ORACLE, _runner("oracle")),
    Command("model", USAGE_MODEL, _runner("model")),
    Command("trace", USAGE_TRACE, _runner("trace")),
    Command("patterns", USAGE_PATTERNS, _runner("patterns")),
]
