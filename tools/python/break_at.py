#!/usr/bin/python3
"""Runs a payload under km, stops it at a symbol, prints registers and memory there, and lets it
run to its end. An example of scripting km's debug service from Python (docs/scripting.md):

  /usr/bin/python3 tools/python/break_at.py --km bazel-bin/km/km --break touch \\
      --mem watched:8 bazel-bin/km_hooks/bin/target

--mem takes SYMBOL[+OFFSET]:LEN or ADDR:LEN, and may be repeated; the 32 bytes at rsp are
always shown. Exits 0 once the payload has ended, 1 if the breakpoint was never hit, 2 for an
unknown symbol or a malformed --mem.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmdebug  # noqa: E402  (kmdebug finds the generated stubs)
from kmdebug import pb  # noqa: E402

GENERAL = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
           "r12", "r13", "r14", "r15", "rip", "rflags", "cs", "ss", "fs_base", "gs_base"]


def hexdump(addr, data):
    for i in range(0, len(data), 16):
        chunk = data[i:i + 16]
        print(f"  0x{addr + i:016x}  {' '.join(f'{b:02x}' for b in chunk)}")


def describe(event):
    kind = event.WhichOneof("kind")
    if kind == "stop":
        reason = pb.StopKind.Name(event.stop.reason.kind)
        return f"thread {event.stop.tid} stopped: {reason} at 0x{event.stop.rip:x}"
    if kind in ("thread_created", "thread_exited"):
        return f"thread {getattr(event, kind).tid} {kind.split('_')[1]}"
    if kind == "forked":
        return f"thread {event.forked.tid} forked child process {event.forked.child_pid}"
    return f"process exited with {event.process_exited.status}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--km", required=True, help="km binary (bazel-bin/km/km)")
    parser.add_argument("--accel", help="km's engine: kvm or tcg (default: km's choice)")
    parser.add_argument("--break", dest="symbol", required=True, help="SYMBOL[+OFFSET]")
    parser.add_argument("--mem", action="append", default=[], help="WHERE:LEN to dump")
    parser.add_argument("payload")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    opts = parser.parse_args()

    km = kmdebug.Km(opts.km, opts.payload, opts.args, opts.accel)
    target = km.debug.GetTarget(pb.GetTargetRequest())
    print(f"km {target.pid} holds {target.payload_path} on {target.engine.name}, "
          f"entry 0x{target.entry:x}", flush=True)

    def where(spec):
        return int(spec, 0) if spec[0].isdigit() else kmdebug.symbol_address(
            opts.payload, spec, target.load_bias)

    try:
        addr = where(opts.symbol)
        dumps = [("rsp", None, 32)]
        for spec in opts.mem:
            place, colon, length = spec.rpartition(":")
            if not colon or not place:
                raise ValueError(f"--mem {spec}: expected WHERE:LEN, e.g. watched:8")
            dumps.append((place, where(place), int(length, 0)))
    except (LookupError, ValueError) as e:
        print(f"break_at.py: {e}", file=sys.stderr)
        km.process.kill()
        km.close()
        return 2

    session = kmdebug.Session(km.debug, f"break_at.py (pid {os.getpid()})")
    session.insert_breakpoint(addr)
    print(f"breakpoint at {opts.symbol} (0x{addr:x})")
    session.resume_all()

    hit = None
    while hit is None:
        event = session.next_event()
        if event is None or event.WhichOneof("kind") == "process_exited":
            print(describe(event) if event else "km ended the session")
            km.close()
            return 1
        print(describe(event), flush=True)
        if event.WhichOneof("kind") == "stop" and event.stop.rip == addr:
            hit = event.stop

    regs = km.debug.ReadRegisters(pb.ReadRegistersRequest(tid=hit.tid))
    for name in GENERAL:
        print(f"  {name:<8} 0x{getattr(regs, name):016x}")
    for label, start, length in dumps:
        start = regs.rsp if start is None else start
        data = km.debug.ReadMemory(pb.ReadMemoryRequest(addr=start, len=length)).data
        print(f"{label} ({len(data)} bytes at 0x{start:x}):")
        hexdump(start, data)

    session.remove_breakpoint(addr)
    session.resume_all()
    print("resumed", flush=True)
    while (event := session.next_event()) is not None:
        print(describe(event), flush=True)
        if event.WhichOneof("kind") == "process_exited":
            break
    print(f"km exited with {km.close()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
