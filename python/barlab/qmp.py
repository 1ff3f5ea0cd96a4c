# SPDX-License-Identifier: GPL-2.0-or-later
"""The one QMP client: QEMU's own (python/qemu/qmp of the QEMU source tree
barlab unpacks to build its QEMU), in its synchronous form.

    with qmp.connect(path, timeout=30) as mon:
        mon.cmd("qom-get", path="/machine/peripheral/nic0", property="x")
"""

import sys
import time

from . import qemu as barlab_qemu
from .common import Fatal


def _qemu_python():
    src = barlab_qemu.source_path()
    if src is None:
        raise Fatal("QEMU's source is not unpacked: run 'scripts/barlab build qemu'")
    path = src / "python"
    if not (path / "qemu" / "qmp").is_dir():
        raise Fatal("QEMU's QMP library is missing from %s" % path)
    return str(path)


def _legacy():
    path = _qemu_python()
    if path not in sys.path:
        sys.path.insert(0, path)
    from qemu.qmp import legacy  # pylint: disable=import-outside-toplevel
    return legacy


class Monitor:
    """A QMP connection to a running QEMU's socket: cmd() returns the
    command's 'return' value and raises Fatal on an error reply."""

    def __init__(self, path, timeout=30.0):
        legacy = _legacy()
        deadline = time.monotonic() + timeout
        while True:
            self._mon = legacy.QEMUMonitorProtocol(str(path))
            try:
                self._mon.connect(negotiate=True)
                break
            except (OSError, legacy.QMPError):
                self._mon.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.timeout = timeout

    def cmd(self, name, **args):
        reply = self._mon.cmd_raw(name, args or None)
        if "error" in reply:
            raise Fatal("QMP %s: %s" % (name, reply["error"].get("desc", reply)))
        return reply.get("return")

    def close(self):
        """Close the connection.  After 'quit' QEMU may hang up first: the
        legacy client then raises EOFError from its reader, and the
        connection is closed all the same."""
        try:
            self._mon.close()
        except EOFError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(path, timeout=30.0):
    return Monitor(path, timeout)
