#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""barlab.kernel's keys and its check of the config fragment, without a
build: a user's series keys a kernel of its own (on top of barlab's and
instead of it apart), the initramfs follows its kernel, and a fragment
line the final .config lost is named with what it got instead."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import barlabtest  # noqa: E402  pylint: disable=wrong-import-position

from barlab import initramfs, kernel  # noqa: E402  pylint: disable=wrong-import-position

VARIANT = str(barlabtest.ROOT / "tests" / "kernel-variants" / "prefetchable-only")


class KernelKeyTest(barlabtest.BarlabTest):
    """The cache keys of barlab's kernel and of a user's series."""

    def test_keys(self):
        keys = {spec: kernel.key(spec) for spec in (None, VARIANT, "+" + VARIANT)}
        with self.check("kernel-key-per-series"):
            self.assertEqual(len(set(keys.values())), 3, keys)
            for k in keys.values():
                self.assertRegex(k, "^[0-9a-f]{16}$")
        with self.check("kernel-key-as-cache-key"):
            r = self.barlab("cache-key", "kernel", "--kernel-patches", "+" + VARIANT)
            self.assertStatus(r, 0)
            self.assertEqual(r.out.strip(), keys["+" + VARIANT])
        with self.check("initramfs-key-follows-kernel"):
            self.assertNotEqual(initramfs.key(None), initramfs.key("+" + VARIANT))
            self.assertNotEqual(initramfs.key(None), kernel.key(None))


class ConfigFragmentTest(barlabtest.BarlabTest):
    """What kernel-configure reports when l1.config did not survive."""

    def test_lost(self):
        fragment = ["CONFIG_A=y", "CONFIG_B=y", "# CONFIG_C is not set",
                    "# CONFIG_D is not set", "CONFIG_F=y", "# a comment"]
        config = ["CONFIG_A=y", "# CONFIG_B is not set", "CONFIG_C=m", "CONFIG_E=y"]
        with self.check("kernel-config-fragment-lost"):
            self.assertEqual(kernel.fragment_lost(fragment, config), [
                "CONFIG_B=y (got: # CONFIG_B is not set)",
                "# CONFIG_C is not set (got: CONFIG_C=m, selected by another option)",
                "CONFIG_F=y (got: unset)"])
        with self.check("kernel-config-fragment-kept"):
            self.assertEqual(kernel.fragment_lost(fragment[:1] + fragment[3:4], config), [])


if __name__ == "__main__":
    barlabtest.main()
