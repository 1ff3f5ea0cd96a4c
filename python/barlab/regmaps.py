# SPDX-License-Identifier: GPL-2.0-or-later
"""The guest drivers' copies of the device register maps, checked against
the device headers.

hw/barlab/nic-regs.h and hw/barlab/barlab-gpu.h define barlab-nic's and
barlab-gpu's register maps for the devices, the qtests, the fuzzer, the
oracle and the bare-metal payloads.  The Linux drivers in guest-drivers/
keep their own names (kernel style, the driver's own prefix, and a module
that builds from its directory alone), so each name they define for a
device fact is listed here with the header expression it must equal.
A define in a driver that is in neither that list nor the driver's own
list (ring sizes, timeouts: choices of the driver, not of the device)
fails too, so a new copy cannot slip in unchecked.

results(root) gives each pair's problems; tests/cli/test_regmaps.py
checks the tree with it.  constant() and pci_id() read a header's value
for the host side, which keeps no copy of its own.
"""

import ast
import functools
import operator
import os
import re

from .common import ROOT

# driver name -> expression over the header's names
NIC_FACTS = {
    "BLN_PCI_VENDOR_QEMU": "BARLAB_NIC_VENDOR_ID",
    "BLN_PCI_DEVICE": "BARLAB_NIC_DEVICE_ID",
    "BLN_REGS_BAR": "BARLAB_NIC_REGS_BAR",
    "BLN_PUSH_BAR": "BARLAB_NIC_PUSH_BAR",
    "BLN_ID": "REG_ID",
    "BLN_VERSION": "REG_VERSION",
    "BLN_CTRL": "REG_CTRL",
    "BLN_STATUS": "REG_STATUS",
    "BLN_INT_CAUSE": "REG_INT_CAUSE",
    "BLN_INT_MASK": "REG_INT_MASK",
    "BLN_LINK": "REG_LINK",
    "BLN_TX_RING": "REG_TX_BASE_LO",
    "BLN_TX_TAIL": "REG_TX_TAIL",
    "BLN_RX_RING": "REG_RX_BASE_LO",
    "BLN_RX_TAIL": "REG_RX_TAIL",
    "BLN_CQ_RING": "REG_CQ_BASE_LO",
    "BLN_CQ_HEAD": "REG_CQ_HEAD",
    "BLN_CQ_TAIL": "REG_CQ_TAIL",
    "BLN_MAC_LO": "REG_MAC_LO",
    "BLN_MAC_HI": "REG_MAC_HI",
    "BLN_DMA_ERRORS": "REG_CNT(CNT_DMA_ERRORS)",
    "BLN_RING_BASE_LO": "REG_TX_BASE_LO - REG_TX_BASE_LO",
    "BLN_RING_BASE_HI": "REG_TX_BASE_HI - REG_TX_BASE_LO",
    "BLN_RING_SIZE": "REG_TX_SIZE - REG_TX_BASE_LO",
    "BLN_ID_VALUE": "BARLAB_NIC_ID",
    "BLN_VERSION_VALUE": "BARLAB_NIC_VERSION",
    "BLN_CTRL_ENABLE": "CTRL_ENABLE",
    "BLN_CTRL_RESET": "CTRL_RESET",
    "BLN_CTRL_MSIX": "CTRL_IRQ_MSIX",
    "BLN_INT_TX": "INT_TX_DONE",
    "BLN_INT_RX": "INT_RX",
    "BLN_INT_ERROR": "INT_ERROR",
    "BLN_INT_LINK": "INT_LINK",
    "BLN_INT_ALL": "INT_ALL",
    "BLN_LINK_UP": "1",     # the spec's LINK register: bit 0, link up
    "BLN_STATUS_TX_ERROR": "STATUS_TX_ERROR",
    "BLN_STATUS_RING_ERROR": "STATUS_RING_ERROR",
    "BLN_STATUS_CQ_ERROR": "STATUS_CQ_ERROR",
    "BLN_PUSH_PAGE_SIZE": "PUSH_PAGE_SIZE",
    "BLN_PUSH_SLOT_DOORBELL": "PUSH_SLOT_DOORBELL",
    "BLN_PUSH_SLOT(3)": "PUSH_SLOT_SIZE * (3 + 1)",
    "BLN_OP_NOP": "OP_NOP",
    "BLN_OP_SEND": "OP_SEND",
    "BLN_TXD_COMPLETION": "DFLAG_COMPLETION",
    "BLN_TXD_HOLD": "DFLAG_HOLD",
    "BLN_CQE_INLINE": "CQE_INLINE",
    "BLN_CQE_PHASE": "CQE_PHASE",
    "BLN_CQE_OK": "CQE_OK",
    "BLN_CQE_DMA_ERROR": "CQE_DMA_ERROR",
    "BLN_RXD_DONE": "RXD_DONE",
    "BLN_RXD_ERROR": "RXD_ERROR",
    "BLN_FRAME_MAX": "ETH_FRAME_MAX",
}
NIC_OWN = {"BLN_TX_ENTRIES", "BLN_CQ_ENTRIES", "BLN_RX_ENTRIES", "BLN_RX_BUF_LEN",
           "BLN_TX_WAKE", "BLN_WC_TEST_NOPS", "BLN_WC_TEST_TIMEOUT_MS", "DRV_NAME",
           "BLN_ISO_TX_RING", "BLN_ISO_TX_BUF", "BLN_ISO_CQ", "BLN_ISO_FRAME_LEN", "BLN_ISO_CASES"}

GPU_FACTS = {
    "PCI_VENDOR_ID_QEMU": "GPU_VENDOR_ID",
    "PCI_DEVICE_ID_BARLAB_GPU": "GPU_DEVICE_ID",
    "BARLAB_GPU_REGS_BAR": "GPU_REGS_BAR",
    "BARLAB_GPU_VRAM_BAR": "GPU_VRAM_BAR",
    "REG_ID": "GPU_REG_ID",
    "REG_VERSION": "GPU_REG_VERSION",
    "REG_CTRL": "GPU_REG_CTRL",
    "REG_STATUS": "GPU_REG_STATUS",
    "REG_FORMAT": "GPU_REG_FORMAT",
    "REG_WIDTH": "GPU_REG_WIDTH",
    "REG_HEIGHT": "GPU_REG_HEIGHT",
    "REG_STRIDE": "GPU_REG_STRIDE",
    "REG_OFFSET_LO": "GPU_REG_OFFSET_LO",
    "REG_OFFSET_HI": "GPU_REG_OFFSET_HI",
    "BARLAB_GPU_ID": "GPU_ID",
    "CTRL_SCANOUT": "GPU_CTRL_SCANOUT",
    "STATUS_MODE_VALID": "GPU_STATUS_MODE_VALID",
    "STATUS_MODE_ERROR": "GPU_STATUS_MODE_ERROR",
    "FORMAT_XRGB8888": "GPU_FORMAT_XRGB8888",
    "BARLAB_GPU_MAX_DIM": "GPU_MAX_DIM",
}
GPU_OWN = {"BARLAB_GPU_CPP", "PSEUDO_PALETTE_SIZE", "DRV_NAME"}

# Each device's header and the names of its PCI vendor and device IDs.
DEVICES = {
    "gpu": ("hw/barlab/barlab-gpu.h", "GPU_VENDOR_ID", "GPU_DEVICE_ID"),
    "nic": ("hw/barlab/nic-regs.h", "BARLAB_NIC_VENDOR_ID", "BARLAB_NIC_DEVICE_ID"),
}

# (driver, header, facts, the driver's own names)
PAIRS = [
    ("guest-drivers/barlab_nic.c", "hw/barlab/nic-regs.h", NIC_FACTS, NIC_OWN),
    ("guest-drivers/barlab_gpu.c", "hw/barlab/barlab-gpu.h", GPU_FACTS, GPU_OWN),
]

_DEFINE = re.compile(r"^#define\s+(\w+)(\([\w\s,]*\))?[ \t]*(.*)$")
_ENUM = re.compile(r"\benum\s*\w*\s*\{([^}]*)\}", re.S)
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.FloorDiv: operator.floordiv, ast.Div: operator.floordiv,
        ast.LShift: operator.lshift, ast.RShift: operator.rshift,
        ast.BitOr: operator.or_, ast.BitAnd: operator.and_}


def read_defines(path):
    """The #defines of a C file: {name: (params or None, body)} and the
    enumerators of its enums: {name: value}."""
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = text.replace("\\\n", " ")
    defines = {}
    for line in text.splitlines():
        m = _DEFINE.match(line.strip())
        if m:
            params = None
            if m.group(2) is not None:
                params = [p.strip() for p in m.group(2)[1:-1].split(",") if p.strip()]
            defines[m.group(1)] = (params, m.group(3).strip())
    enums = {}
    for body in _ENUM.findall(text):
        value = 0
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            name, _, expr = item.partition("=")
            if expr.strip():
                value = int(expr.strip(), 0)
            enums[name.strip()] = value
            value += 1
    return defines, enums


class Evaluator:
    """Integer value of a C constant expression over one file's macros."""

    def __init__(self, defines, enums):
        self.defines = defines
        self.enums = enums

    def value(self, expr, depth=0):
        if depth > 32:
            raise ValueError("macro nesting too deep: %s" % expr)
        expr = re.sub(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b", r"\1", expr)
        expr = re.sub(r"\(\s*(?:unsigned\s+)?(?:int|long|u32|u64|uint\d+_t)\s*\)", "", expr)
        return self._eval(ast.parse(expr.strip(), mode="eval").body, depth)

    def _eval(self, node, depth):
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](self._eval(node.left, depth), self._eval(node.right, depth))
        if isinstance(node, ast.Name):
            if node.id in self.enums:
                return self.enums[node.id]
            params, body = self.defines.get(node.id, (None, None))
            if body is None or params is not None:
                raise ValueError("%s is not defined as a constant" % node.id)
            return self.value(body, depth + 1)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            args = [self._eval(a, depth) for a in node.args]
            if node.func.id == "BIT" and len(args) == 1 and "BIT" not in self.defines:
                return 1 << args[0]
            params, body = self.defines.get(node.func.id, (None, None))
            if params is None or len(params) != len(args):
                raise ValueError("%s is not a macro of %d arguments" % (node.func.id, len(args)))
            for p, a in zip(params, args):
                body = re.sub(r"\b%s\b" % re.escape(p), "(%d)" % a, body)
            return self.value(body, depth + 1)
        raise ValueError("cannot evaluate %s" % ast.dump(node))


def check_pair(root, driver, header, facts, own):
    """Problems found between DRIVER's copy and HEADER: a list of lines."""
    ddefs, denums = read_defines(os.path.join(root, driver))
    hdefs, henums = read_defines(os.path.join(root, header))
    dval = Evaluator(ddefs, denums)
    hval = Evaluator(hdefs, henums)
    problems = []
    for dexpr, hexpr in facts.items():
        try:
            got, want = dval.value(dexpr), hval.value(hexpr)
        except (ValueError, SyntaxError) as e:
            problems.append("%s = %s: %s" % (dexpr, hexpr, e))
            continue
        if got != want:
            problems.append("%s in %s is %#x, %s in %s is %#x"
                            % (dexpr, driver, got, hexpr, header, want))
    known = {f.split("(")[0] for f in facts} | own
    for name in ddefs:
        if name not in known:
            problems.append("%s defines %s: list it in python/barlab/regmaps.py with the "
                            "header expression it equals, or as the driver's own"
                            % (driver, name))
    return problems


def results(root):
    """(name, problems, facts, header) for each driver against its header."""
    return [("regmap-" + os.path.basename(driver), check_pair(root, driver, header, facts, own),
             len(facts), header)
            for driver, header, facts, own in PAIRS]


@functools.lru_cache(maxsize=None)
def _header(path):
    return Evaluator(*read_defines(path))


def constant(header, name, root=ROOT):
    """The value of constant NAME of HEADER (relative to ROOT)."""
    return _header(os.path.join(str(root), header)).value(name)


def pci_id(device, root=ROOT):
    """barlab-gpu's or barlab-nic's PCI ID as VENDOR:DEVICE ("1234:abcd",
    as lspci and sysfs spell it), from the device's header."""
    header, vendor, dev = DEVICES[device]
    return "%04x:%04x" % (constant(header, vendor, root), constant(header, dev, root))
