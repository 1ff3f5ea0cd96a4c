# SPDX-License-Identifier: GPL-2.0-or-later
"""What barlab's port costs a guest: wall time of the agreement payload
(16384 cells on -cpu max) touching
  - barlab-gpu's VRAM, port in gather mode, trace on with the checker's
    verdict in every record (what barlab runs),
  - the same with the port reordering and speculating (reorder+speculate),
  - barlab-gpu's VRAM, port in exact mode, trace off,
  - a RAM-backed BAR of the same size (bochs-display's VRAM: BAR0,
    prefetchable, 16 MiB; barlab's QEMU builds no ivshmem): the baseline,
measured in one run, each the best of RUNS, printed with ratios."""

import os

from .payload_runs import console_has, qemu_argv, remove, run_ms, tails
from .runs import Failed, best_of, scratch

NAME = "qemu-agree"


def run(qemu, payload, runs=3):
    with scratch() as tmp:
        console, trace = os.path.join(tmp, "console"), os.path.join(tmp, "trace")
        errlog = os.path.join(tmp, "qemu")

        def once(*device):
            remove(trace)
            argv = qemu_argv(qemu, payload, console, 2, *device)
            try:
                ms = run_ms(NAME, argv, errlog)
            except Failed:
                raise Failed(NAME, "QEMU failed: %s" % " ".join(device),
                             tails(console, errlog))
            if not console_has(console, "agree-end"):
                raise Failed(NAME, "the payload did not finish: %s" % " ".join(device))
            return ms

        ram = best_of(runs, lambda: once("-device", "bochs-display,vgamem=16M", "-append",
                                         "vendor=0x1234 device=0x1111 bar=0"))
        exact = best_of(runs, lambda: once("-device", "barlab-gpu,port-mode=exact"))
        traced = best_of(runs, lambda: once("-device", "barlab-gpu,trace=%s" % trace))
        modelled = best_of(runs, lambda: once(
            "-device", "barlab-gpu,port-mode=reorder+speculate:1,trace=%s" % trace))

    print("bench qemu-agree: agreement payload, -cpu max, best of %d" % runs)
    print("  %-44s %7d ms   %5.2fx" % ("RAM-backed BAR (bochs-display VRAM): baseline", ram, 1))
    for label, ms in (("barlab-gpu, port exact, no trace", exact),
                      ("barlab-gpu, port gather, trace+verdicts on", traced),
                      ("barlab-gpu, reorder+speculate, trace on", modelled)):
        print("  %-44s %7d ms   %5.2fx" % (label, ms, ms / ram))
