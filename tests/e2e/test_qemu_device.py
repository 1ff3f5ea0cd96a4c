#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""barlab's QEMU as a user meets it: the stock machine and devices still
work, barlab-gpu is there, and bad device options get one clear error."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import barlabtest  # noqa: E402
import devtest  # noqa: E402
from barlab import machine  # noqa: E402

QMP_QUIT = b'{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n'
QMP_OK = r'"return": \{\}'


class StockMachineTest(devtest.DeviceTest):
    """Stock arm64 machines with stock devices start and quit over QMP."""

    def qmp_quit(self, *args):
        return self.run_cmd([self.qemu] + list(args) + ["-S", "-qmp", "stdio"],
                            stdin=QMP_QUIT, timeout=60)

    def test_stock_devices(self):
        r = self.qmp_quit(*machine.virt("max", smmu=True),
                          "-device", "bochs-display,romfile=",
                          "-device", "virtio-net-pci,netdev=n0,romfile=",
                          "-netdev", "user,id=n0")
        with self.check("stock-machine"):
            self.assertStatus(r, 0)
            self.assertOutput(r, QMP_OK)

    def test_option_roms(self):
        """The option ROMs those devices load by default (iPXE's efi-*.rom,
        SeaBIOS's vgabios), found on barlab's firmware path, and UEFI from
        Debian's qemu-efi-aarch64."""
        r = self.qmp_quit(*machine.virt("max"),
                          "-device", "bochs-display", "-device", "virtio-net-pci,netdev=n0",
                          "-netdev", "user,id=n0", "-device", "e1000e,netdev=n1",
                          "-netdev", "user,id=n1", "-drive",
                          "if=pflash,format=raw,readonly=on,"
                          "file=/usr/share/AAVMF/AAVMF_CODE.fd")
        with self.check("stock-machine-roms"):
            self.assertStatus(r, 0)
            self.assertOutput(r, QMP_OK)


class BarlabGpuTest(devtest.DeviceTest):
    """barlab-gpu is listed, starts, and refuses bad options in one line."""

    def test_listed(self):
        r = self.run_cmd([self.qemu, "-device", "help"])
        with self.check("device-listed"):
            self.assertStatus(r, 0)
            self.assertOutput(r, 'name "barlab-gpu", bus PCI')

    def test_starts(self):
        r = self.run_cmd([self.qemu] + machine.virt() +
                         ["-S", "-qmp", "stdio", "-device", "barlab-gpu,port-mode=exact"],
                         stdin=QMP_QUIT, timeout=60)
        with self.check("gpu-starts"):
            self.assertStatus(r, 0)
            self.assertOutput(r, QMP_OK)

    def test_bad_options(self):
        for name, opt, message in (
                ("bad-vram-size", "vram-size=3M", "vram-size must be a power of two"),
                ("bad-port-mode", "port-mode=fast",
                 "port-mode must be exact, gather or reorder"),
                ("bad-gather-geometry", "gather-line-size=48",
                 "gather-line-size a power of two"),
                ("bad-trace-path", "trace=/nonexistent/dir/t.bltrace", "trace:")):
            r = self.run_cmd([self.qemu] + machine.virt() +
                             ["-S", "-device", "barlab-gpu," + opt], timeout=60)
            with self.check(name):
                lines = [x for x in r.err.splitlines() if x]
                if r.status == 0 or len(lines) != 1 or message not in lines[0]:
                    self.fail("wanted one error line with '%s'\n%s" % (message, r.tail()))


if __name__ == "__main__":
    barlabtest.main()
