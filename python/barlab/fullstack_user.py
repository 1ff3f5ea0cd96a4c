# SPDX-License-Identifier: GPL-2.0-or-later
"""A user's program and modules in `barlab fullstack --run` (the host side).

  check_program(PATH)
      Is PATH a program L2 can run: an executable aarch64 ELF (static or
      dynamic)?  Refused (one line) if not.  Its libraries are resolved by
      the walker in barlab.fullstack_vmm.
  check_module(KO, REFERENCE_KO)
      Is KO an aarch64 kernel module whose vermagic is that of
      REFERENCE_KO (a module barlab built against its own kernel)?  Same
      convention.  Reads the vermagic with modinfo.
  device_line(BARLAB_MT, TRACES)
      What barlab-gpu's ports saw, as one results line:
          gpu ok|broken txns=N gathered=N violations=N [RULE=N...]
      (gathered: transactions made of more than one CPU access), or
      `gpu failed WHY`.
  console_tail(CONSOLE, N)
      The last N lines L2 printed while the `run` step ran (from the L1
      console: the `l2: ` lines between `fullstack: begin run` and its
      result, or the end of that L2 boot).
  report(DIRS)
      The table of the runs: per policy directory, the program's outcome,
      the module's, what barlab-gpu saw, and the trace; then each
      console tail.
"""

import os
import re
import struct
import subprocess
import sys

from .fullstack_nic import mt_json

EM_AARCH64 = 183
# e_machine values a user is likely to hand us by mistake, for the message.
MACHINES = {3: "i386", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64", 22: "s390",
            40: "32-bit Arm", 62: "x86-64", 183: "aarch64", 243: "RISC-V"}
ET_REL, ET_EXEC, ET_DYN = 1, 2, 3


# QEMU's vCPU register dump after "kvm run failed": its PC and EL are in
# the result's words already.
REGISTER_DUMP = re.compile(r"^ *(PC=|X[0-9]{2}=|PSTATE=)")


class Refused(Exception):
    """Why a file cannot go into L2 (one line)."""


def elf_header(path):
    """(class, data, e_type, e_machine) of an ELF file, or Refused."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError as e:
        raise Refused("%s: %s" % (path, e.strerror)) from None
    if len(head) < 20 or head[:4] != b"\x7fELF":
        raise Refused("%s is not an ELF file" % path)
    ei_class, ei_data = head[4], head[5]
    endian = "<" if ei_data == 1 else ">"
    e_type, e_machine = struct.unpack(endian + "HH", head[16:20])
    return ei_class, ei_data, e_type, e_machine


def check_aarch64(path, what):
    ei_class, ei_data, e_type, e_machine = elf_header(path)
    if e_machine != EM_AARCH64 or ei_class != 2 or ei_data != 1:
        arch = MACHINES.get(e_machine, "machine %d" % e_machine)
        if e_machine == EM_AARCH64:
            arch = "big-endian or 32-bit aarch64"
        raise Refused("%s is %s for %s, not for aarch64 (L2 is a 64-bit little-endian "
                      "Arm Linux)" % (path, what, arch))
    return e_type


def check_program(path):
    if not os.path.exists(path):
        raise Refused("%s: no such file" % path)
    if not os.path.isfile(path):
        raise Refused("%s is not a regular file" % path)
    if not os.access(path, os.X_OK):
        raise Refused("%s is not executable (chmod +x it)" % path)
    e_type = check_aarch64(path, "a program")
    if e_type not in (ET_EXEC, ET_DYN):
        raise Refused("%s is an ELF object or core file, not a program" % path)


def vermagic(path):
    out = subprocess.run(["modinfo", "-F", "vermagic", path], capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        raise Refused("%s: modinfo finds no vermagic: not a kernel module" % path)
    return out.stdout.strip()


def check_module(path, reference):
    if not os.path.isfile(path):
        raise Refused("%s: no such file" % path)
    if not path.endswith(".ko"):
        raise Refused("%s: a kernel module's name ends in .ko" % path)
    if check_aarch64(path, "a module") != ET_REL:
        raise Refused("%s is not a kernel module (not a relocatable ELF)" % path)
    got, want = vermagic(path), vermagic(reference)
    if got != want:
        raise Refused("%s was built for another kernel: vermagic '%s', barlab's kernel is '%s' "
                      "(build it with 'barlab build module DIR')" % (path, got, want))


def device_line(mt, traces):
    txns = []
    try:
        for t in traces:
            if os.path.exists(t):
                txns += [r for r in mt_json(mt, "trace", t) if r["type"] == "txn"]
    except (subprocess.CalledProcessError, ValueError) as e:
        why = getattr(e, "stderr", None) or str(e)
        return "gpu failed unreadable-trace (%s)" % why.strip().replace(" ", "_")
    rules = {}
    for t in txns:
        for r in t["verdict"] or ():
            rules[r] = rules.get(r, 0) + 1
    bad = sum(1 for t in txns if t["verdict"])
    words = ["gpu", "broken" if bad else "ok", "txns=%d" % len(txns),
             "gathered=%d" % sum(1 for t in txns if t["n"] > 1), "violations=%d" % bad]
    return " ".join(words + ["%s=%d" % kv for kv in sorted(rules.items())])


def console_tail(console, n):
    """The lines L2 printed during its last `run` step, at most n."""
    try:
        with open(console, errors="replace") as f:
            lines = [line.rstrip("\r\n") for line in f]
    except OSError:
        return []
    tail, inside = [], False
    for line in lines:
        if not line.startswith("l2: "):
            if inside and line.startswith("fullstack: l2-boot "):
                inside = False
            continue
        line = line[4:]
        if line == "fullstack: begin run":
            tail, inside = [], True
        elif inside and line.startswith("fullstack: result run "):
            inside = False
        elif inside and not REGISTER_DUMP.match(line) and not line.startswith("fullstack: "):
            tail.append(line)
    return tail[-n:]


def run_modules(console):
    """The modules L2 loaded for its last `run` step, or "-"."""
    mods = "-"
    try:
        with open(console, errors="replace") as f:
            for line in f:
                if line.startswith("l2: fullstack: run-modules "):
                    mods = line.split()[3]
    except OSError:
        pass
    return mods


def results(d):
    """{step: (outcome, {key: value})} of a run directory's results file."""
    out = {}
    try:
        with open(os.path.join(d, "results")) as f:
            for line in f:
                w = line.split()
                if len(w) >= 2:
                    out[w[0]] = (w[1], dict(x.split("=", 1) for x in w[2:] if "=" in x))
    except OSError:
        pass
    return out


def summary_value(d, key):
    try:
        with open(os.path.join(d, "summary")) as f:
            for line in f:
                w = line.split()
                if w and w[0] == key:
                    return " ".join(w[1:])
    except OSError:
        pass
    return "-"


def program_cell(outcome, kv):
    """exit 0, SIGBUS, vm-death, timeout 30s, ..."""
    if outcome == "exit":
        return "exit %s" % kv.get("status", "?")
    if outcome == "signal":
        return "SIG%s" % kv.get("signal", "?")
    if outcome == "timeout" and "limit" in kv:
        return "timeout %ss" % kv["limit"]
    return outcome


def report(dirs, out=None):
    out = out or sys.stdout
    fmt = "%-13s %-12s %-16s %-6s %-8s %-22s %s\n"
    out.write(fmt % ("policy", "program", "module", "txns", "gathered", "violations", "trace"))
    for d in dirs:
        r = results(d)
        outcome, kv = r.get("run", ("-", {}))
        mod = kv.get("modules") or run_modules(os.path.join(d, "console.log"))
        gpu = r.get("gpu", ("-", {}))[1]
        if r.get("gpu", ("-",))[0] == "failed":
            txns = gathered = violations = "?"
        else:
            txns, gathered = gpu.get("txns", "-"), gpu.get("gathered", "-")
            rules = ["%s:%s" % (k, v) for k, v in gpu.items() if k[:1].isupper()]
            violations = gpu.get("violations", "-")
            if rules:
                violations += " " + ",".join(rules)
        out.write(fmt % (summary_value(d, "policy"), program_cell(outcome, kv), mod, txns,
                         gathered, violations, os.path.join(d, "gpu.trace")))
    for d in dirs:
        outcome, kv = results(d).get("run", ("-", {}))
        detail = " ".join("%s=%s" % (k, v) for k, v in kv.items()
                          if k in ("fault", "qemu", "pc", "l1-kvm"))
        out.write("%s: %s%s; console:\n" % (summary_value(d, "policy"), program_cell(outcome, kv),
                                            " (%s)" % detail if detail else ""))
        try:
            with open(os.path.join(d, "run-console.txt"), errors="replace") as f:
                tail = f.read().splitlines()
        except OSError:
            tail = []
        for line in tail or ["(nothing)"]:
            out.write("    %s\n" % line)

