#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Regenerates cmake/static_agent/text_order.txt, the --symbol-ordering-file of medic-agent's
static link (cmake/MedicStaticAgent.cmake).

Runs the agent under valgrind --tool=callgrind in agent_bench.py's footprint setup (no peers,
ERROR lines written to 10 log files, a watched process, an HTTP probe) and lists every function
of the agent's binary its parent process executed: first the ones it ran in the steady state
(from `--startup` seconds after its start to `--startup + --steady`), hottest first, then the
ones it ran only while starting: those that still ran after the first tick first, then the others,
each group in the order they first ran (callgrind dumps every `--dump-every-bb` basic blocks tell
which part of start-up that was): each stage of start-up then touches few pages of code, and the
agent releases them between stages. glibc's string functions and IFUNC resolvers are listed
under the names this CPU uses. The Hyperscan compile child that the agent fork()s writes its own
callgrind file and is ignored: the parent only scans. Functions run only at shutdown are not
listed. A stale file is harmless (the link ignores names it does not find); it only costs
resident text.

    python3 tests/bench/agent_text_order.py build/rel [--startup 30] [--steady 40]

Needs a Release build with MEDIC_AGENT_STATIC (the binary profiled should be the one ordered,
but any recent build of the same sources gives nearly the same list), valgrind, and the
footprint benchmark's tools (tests/bench/agent_bench.py).
"""
import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import agent_bench as ab  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "cmake/static_agent/text_order.txt"
# Group markers in the order file (comments to LLD), read by tools/code_runs.
START_UP_MARKER = "# medic: start-up"
OTHER_CPUS_MARKER = "# medic: other CPUs"


def dump_trigger(path):
    """The "desc: Trigger:" line of a callgrind dump: what wrote it."""
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("desc: Trigger:"):
                return line.split(":", 2)[2].strip()
            if line.startswith(("fn=", "totals:")):
                break
    return ""


def parse_callgrind(path, binary):
    """{mangled function name: self cost} of `binary`'s functions in one callgrind dump."""
    names = {"ob": {}, "fn": {}}
    costs = {}
    ob = fn = None
    in_call = False
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"^(c?)(ob|fl|fi|fe|fn)=(?:\((\d+)\))?\s*(.*)$", line.rstrip("\n"))
            if m:
                callee, kind, ident, name = m.groups()
                kind_key = "ob" if kind == "ob" else ("fn" if kind == "fn" else None)
                if kind_key:
                    if ident is not None and name:
                        names[kind_key][ident] = name
                    value = names[kind_key].get(ident, name) if ident is not None else name
                    if not callee:
                        if kind_key == "ob":
                            ob = value
                        else:
                            fn = value
                continue
            if line.startswith("calls="):
                in_call = True  # the next cost line is the call's inclusive cost
                continue
            if line[:1].isdigit() or line[:1] in "+-*":
                if in_call:
                    in_call = False
                    continue
                parts = line.split()
                if len(parts) >= 2 and ob and fn and Path(ob).name == binary.name:
                    costs[fn] = costs.get(fn, 0) + sum(int(p) for p in parts[1:] if p.isdigit())
    # Recursion levels ("'2") and callgrind's "0x..." names for code without a symbol.
    out = {}
    for name, cost in costs.items():
        name = re.sub(r"'\d+$", "", name)
        if not name.startswith("0x") and " " not in name:  # also "(below main)"
            out[name] = out.get(name, 0) + cost
    return out


# Hyperscan's fat runtime (Debian's libhs) holds every runtime function once per CPU family,
# prefixed, and picks one family at start-up. Under valgrind it picks another (valgrind has no
# AVX-512), so the profiled names are moved to the family this machine runs.
HS_FAMILIES = ("avx512vbmi", "avx512", "avx2", "corei7", "core2")
HS_PREFIX = re.compile(r"^(avx512vbmi|avx512|avx2|corei7|core2)_")


def host_family():
    """The family Hyperscan's dispatcher (util/cpuid_flags.c) picks on this CPU."""
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    if {"avx512f", "avx512bw", "avx512vbmi"} <= flags:
        return "avx512vbmi"
    if {"avx512f", "avx512bw"} <= flags:
        return "avx512"
    if {"avx2", "bmi2"} <= flags:
        return "avx2"
    if {"sse4_2", "popcnt"} <= flags:
        return "corei7"
    return "core2"


def function_symbols(binary):
    """[(address, name, local)] of `binary`'s function symbols, by address."""
    out = subprocess.run(["nm", "--defined-only", str(binary)], capture_output=True, text=True,
                         check=True).stdout
    syms = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "tTwW":
            syms.append((int(f[0], 16), f[2], f[1] == "t"))
    return sorted(syms)


def retarget_hyperscan(names, binary, family):
    """`names` with Hyperscan's family-prefixed functions moved to `family`, and the static
    functions of another family's objects dropped (that object would be pulled in whole; it
    holds only prefixed functions and unmangled static ones, so a static C function whose nearest
    neighbours on both sides, past other such static functions, are another family's prefixed
    functions is one of them). Returns (names, the other families' copies)."""
    syms = function_symbols(binary)
    index = {n: i for i, (_, n, _) in enumerate(syms)}

    def family_beside(i, step):
        i += step
        while 0 <= i < len(syms):
            _, name, local = syms[i]
            m = HS_PREFIX.match(name)
            if m:
                return m.group(1)
            if not local or name.startswith("_Z"):
                return None  # another object's function
            i += step
        return None

    def inside_other_family(name):
        if name.startswith("_Z") or name not in index or not syms[index[name]][2]:
            return False
        before, after = family_beside(index[name], -1), family_beside(index[name], 1)
        return before is not None and before == after != family

    out, others, seen = [], [], set()
    for name in names:
        m = HS_PREFIX.match(name)
        if m:
            stem = name[m.end():]
            name = f"{family}_{stem}"
            others += [f"{f}_{stem}" for f in HS_FAMILIES if f != family]
        elif inside_other_family(name):
            continue
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out, [n for n in dict.fromkeys(others) if n not in seen]


# glibc's string functions exist once per instruction set; an IFUNC picks one at start-up, and
# under valgrind (no AVX-512) another than on this machine. A profiled variant brings along the
# EVEX and AVX-512 variants of the same function, the ones this machine's CPUs pick.
GLIBC_VARIANT = re.compile(r"^(__[a-z0-9]+(?:_[a-z])?)_(?:sse2|ssse3|sse4_1|sse4_2|avx2|avx|evex|"
                           r"avx512)(?:_\w+)?$")


def retarget_glibc(names, binary):
    """`names` with each glibc string function variant followed by its EVEX/AVX-512 siblings,
    and each IFUNC symbol (valgrind names the resolver after it) by the resolver's own name."""
    by_base, at = {}, {}
    for address, name, _ in function_symbols(binary):
        at.setdefault(address, []).append(name)
        m = GLIBC_VARIANT.match(name)
        if m and re.search(r"_(evex|avx512)", name[len(m.group(1)):]):
            by_base.setdefault(m.group(1), []).append(name)
    resolvers = {}
    for line in subprocess.run(["nm", "--defined-only", str(binary)], capture_output=True,
                               text=True, check=True).stdout.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] == "i":
            resolvers[f[2]] = at.get(int(f[0], 16), [])
    out = []
    for name in names:
        out.append(name)
        out += resolvers.get(name, [])
        m = GLIBC_VARIANT.match(name)
        if m:
            out += by_base.get(m.group(1), [])
    return list(dict.fromkeys(out))


FIRST_TICK = "_ZN5medic5agent4loop5Agent16report_footprintEv"  # runs at every tick
BELOW_MAIN = ["_start", "__libc_start_main_impl", "__libc_start_main", "__libc_start_call_main"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", type=Path, help="a Release build directory with MEDIC_AGENT_STATIC")
    ap.add_argument("--startup", type=float, default=30, help="seconds counted as start-up")
    ap.add_argument("--steady", type=float, default=40, help="seconds of steady state profiled")
    ap.add_argument("--dump-every-bb", type=int, default=50_000,
                    help="basic blocks per callgrind dump: start-up code is laid out in the order"
                         " of the dumps it first runs in")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    build = args.build.resolve()
    binary = build / "agent/medic-agent"
    with tempfile.TemporaryDirectory(prefix="medic-text-order-") as tmp:
        tmp = Path(tmp)
        work = tmp / "work"
        work.mkdir()
        started = {}
        real_start = ab.PROCS.start

        def start(argv, out=None, cpu=None, **kw):
            if Path(str(argv[0])) == binary:  # the agent itself (the key print runs bare)
                argv = ["valgrind", "--tool=callgrind", "--demangle=no",
                        f"--dump-every-bb={args.dump_every_bb}",
                        f"--callgrind-out-file={tmp}/cg.%p"] + list(argv)
                p = real_start(argv, out, cpu, **kw)
                started["agent"] = (p, time.monotonic())
                return p
            return real_start(argv, out, cpu, **kw)

        ab.PROCS.start = start
        real_wait = ab.wait_until
        ab.wait_until = lambda fn, timeout, *a, **kw: real_wait(fn, timeout * 10, *a, **kw)  # valgrind is slow
        result = {}

        def run():
            try:
                result["r"] = ab.footprint_run(build, work, 1, args.startup + args.steady + 5,
                                               variant=(False, "errors", ab.FULL_AGENT))
            except Exception as e:  # reported below; the dumps may still be usable
                result["error"] = e

        runner = threading.Thread(target=run, daemon=True)
        runner.start()
        while "agent" not in started and runner.is_alive():
            time.sleep(0.2)
        if "agent" not in started:
            sys.exit(f"agent_text_order: the agent did not start: {result.get('error')}")
        p, t0 = started["agent"]
        for label, at in (("startup", args.startup), ("steady", args.startup + args.steady)):
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            if p.poll() is not None:
                sys.exit(f"agent_text_order: the agent exited ({p.returncode}); see {work}")
            subprocess.run(["callgrind_control", "--dump=" + label, str(p.pid)], check=True,
                           capture_output=True, timeout=120)
            ab.log(f"callgrind dump '{label}' written")
        runner.join()
        if "error" in result:
            sys.exit(f"agent_text_order: the footprint run failed: {result['error']}")
        dumps = sorted(tmp.glob(f"cg.{p.pid}.*"), key=lambda f: int(f.name.rsplit(".", 1)[1]))
        triggers = [dump_trigger(d) for d in dumps]
        marks = [i for i, t in enumerate(triggers) if "startup" in t]
        ends = [i for i, t in enumerate(triggers) if "steady" in t]
        if not marks or not ends:
            sys.exit(f"agent_text_order: no 'startup' and 'steady' dumps of pid {p.pid}: {triggers}")
        # Start-up: every dump up to the 'startup' one, and the part each function first ran in.
        startup, first_part, last_part = {}, {}, {}
        for part, dump in enumerate(dumps[:marks[0] + 1]):
            for name, cost in parse_callgrind(dump, binary).items():
                startup[name] = startup.get(name, 0) + cost
                first_part.setdefault(name, part)
                last_part[name] = part
        steady = {}
        for dump in dumps[marks[0] + 1:ends[0] + 1]:
            for name, cost in parse_callgrind(dump, binary).items():
                steady[name] = steady.get(name, 0) + cost
    family = host_family()
    hot, others_hot = retarget_hyperscan(
        retarget_glibc(sorted(steady, key=lambda n: -steady[n]), binary), binary, family)
    # Start-up code in the order it first runs, so that each stage of start-up touches few pages
    # (they are released between stages: agent/loop/footprint.hpp). What still ran after the
    # first tick (string and container helpers, logging, the first signal's path) comes first:
    # the rare events of the steady state use it again.
    first_tick = first_part.get(FIRST_TICK, 0)
    cold, others_cold = retarget_hyperscan(
        retarget_glibc(sorted((n for n in startup if n not in steady),
                              key=lambda n: (last_part[n] <= first_tick, first_part[n],
                                             -startup[n])), binary), binary, family)
    # Callgrind names the functions that run before main "(below main)", which parse_callgrind
    # skips: they lead the start-up code.
    cold = [n for n in dict.fromkeys(BELOW_MAIN + cold) if n not in set(hot)]
    others = [n for n in dict.fromkeys(others_hot + others_cold) if n not in set(hot + cold)]
    header = (f"# medic-agent's --symbol-ordering-file (cmake/MedicStaticAgent.cmake), written by\n"
              f"# tests/bench/agent_text_order.py: {len(hot)} functions run in the steady state\n"
              f"# (hottest first), then {len(cold)} run only at start-up (those that still ran\n"
              f"# after the first tick first, each group in the order they first ran), then the\n"
              f"# {len(others)} copies of Hyperscan's runtime for the CPU families other than\n"
              f"# {family}. The marker lines split the groups for medic-code-runs\n"
              f"# (agent/loop/code_fence.hpp).\n")
    args.out.write_text(header + "".join(n + "\n" for n in hot) + START_UP_MARKER + "\n" +
                        "".join(n + "\n" for n in cold) + OTHER_CPUS_MARKER + "\n" +
                        "".join(n + "\n" for n in others))
    print(f"agent_text_order: {len(hot)} steady-state + {len(cold)} start-up functions "
          f"(+ {len(others)} Hyperscan copies for other CPUs) -> {args.out}")
    print(f"agent_text_order: the steady state ran {sum(steady.values()) / 1e6:.2f} M instructions "
          f"of the agent's binary in {args.steady:g} s (all threads)")


if __name__ == "__main__":
    main()
