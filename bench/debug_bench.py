"""km-debug against gdbserver and qemu-user, side by side, on the same static program.

Raw RSP figures (no gdb in the timed loop: this times the servers, not gdb):
  stepi rate, breakpoint hit rate (alone, and with three more threads that all-stop stops at each
  hit), memory read throughput, interrupt latency, attach-idle overhead.
Whole-gdb figures (gdb -batch, timed inside gdb around the command):
  N stepi, N next over a line of many instructions, a conditional breakpoint false N times, a
  dprintf printed N times, a tracepoint collecting N frames,
  N continues to a breakpoint with three more threads.

Repetitions are interleaved (rep 1 of every server, then rep 2...) so that the machine's load
drifting during the run weighs on every server alike. Prints a Markdown table: median and
min–max of the repetitions, and each server's ratio to gdbserver in the same run.

  debug_bench.py [--quick] [--reps N] [--servers km,gdbserver,qemu] [--output FILE]
"""

import argparse
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import servers  # noqa: E402
from rsp_client import RspClient  # noqa: E402

SERVER_TITLES = {"km": "km + agent (tcg)", "gdbserver": "gdbserver (native)", "qemu": "qemu-x86_64 -g"}


class Counts:
    def __init__(self, quick):
        self.reps = 1 if quick else 3
        self.steps = 50 if quick else 2000
        self.hits = 20 if quick else 1000
        self.memory = (64 << 10) if quick else (8 << 20)
        self.interrupts = 1 if quick else 3
        # Iterations of the attach-idle loop, per server: one to a few seconds each here.
        self.idle_loop = ({"km": 20000, "gdbserver": 200000, "qemu": 200000} if quick else
                          {"km": 2000000, "gdbserver": 200000000, "qemu": 50000000})
        self.gdb_steps = 20 if quick else 500
        self.gdb_nexts = 10 if quick else 200
        self.gdb_false = 50 if quick else 10000
        self.gdb_record = 20 if quick else 2000
        self.gdb_hits = 10 if quick else 300


FIGURES = [
    # key, title, unit, higher is better
    ("stepi", "stepi (vCont;s round trips)", "steps/s", True),
    ("bp", "breakpoint hits (continue → stop)", "hits/s", True),
    ("bp_threads", "breakpoint hits, 3 more threads (blocked)", "hits/s", True),
    ("memory", "memory read (largest m packet)", "MiB/s", True),
    ("interrupt", "interrupt latency (\\x03 → stop reply)", "ms", False),
    ("idle", "attach-idle run time (attached / no debugger)", "x", False),
    ("gdb_stepi", "gdb: stepi N", "s", False),
    ("gdb_next", "gdb: next N over a long line", "s", False),
    ("gdb_cond", "gdb: conditional breakpoint false N times", "s", False),
    ("gdb_dprintf", "gdb: dprintf (agent style) N times", "s", False),
    ("gdb_trace", "gdb: tracepoint collecting N frames (registers and a local)", "s", False),
    ("gdb_record", "gdb: record a loop of N calls, reverse-continue to its start", "s", False),
    ("gdb_threads", "gdb: continue to a breakpoint N times, 3 more threads (blocked)", "s", False),
]


def symbols(program):
    out = subprocess.run(["nm", program], check=True, capture_output=True, text=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            table[parts[2]] = int(parts[0], 16)
    return table


def expected_buffer(length):
    """What debug_target.c fills `buffer` with."""
    return bytes(((i * 131 + (i >> 12)) & 0xFF) for i in range(length))


class BenchError(Exception):
    pass


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def stop_at(client, addr):
    """Runs to addr with a breakpoint there, then takes the breakpoint out again."""
    client.insert_breakpoint(addr)
    stop = client.resume("c")
    check(stop.kind in "TS" and stop.signal == 5, "no breakpoint stop: %r" % stop)
    client.remove_breakpoint(addr)
    return stop


# A server that has not stopped this long after \x03 ignores it (qemu-user 7.2 does: its gdb stub
# reads the connection only when the guest stops on its own).
INTERRUPT_TIMEOUT = 5.0


def session_spin(tools, name, counts, syms, results):
    """stepi rate, memory read throughput and interrupt latency, in one run of `spin`."""
    server = servers.STARTERS[name](tools, ["spin", str(counts.memory)])
    client = None
    try:
        client = RspClient(server.port)
        client.handshake()
        stop_at(client, syms["ready"])
        stop = stop_at(client, syms["hot"])
        step = "s:" + stop.thread if stop.thread else "s"

        start = time.perf_counter()
        for _ in range(counts.steps):
            stop = client.resume(step)
            check(stop.kind in "TS" and stop.signal == 5, "stepi: %r" % stop)
        results["stepi"].append(counts.steps / (time.perf_counter() - start))

        # gdb reads at most (PacketSize - header) / 2 bytes per m: its reply is hex.
        chunk = min((client.packet_size - 32) // 2, 1 << 20)
        chunk -= chunk % 64
        addr = syms["buffer"]
        data = bytearray()
        start = time.perf_counter()
        while len(data) < counts.memory:
            data += client.read_memory(addr + len(data), min(chunk, counts.memory - len(data)))
        elapsed = time.perf_counter() - start
        check(bytes(data[:1 << 16]) == expected_buffer(1 << 16), "memory read: wrong bytes")
        results["memory"].append(counts.memory / elapsed / (1 << 20))
        results.setdefault("memory_chunk", []).append(chunk)

        for _ in range(counts.interrupts):
            client.send("vCont;c")
            time.sleep(random.uniform(0.05, 0.1))
            start = time.perf_counter()
            client.send_raw(b"\x03")
            client.sock.settimeout(INTERRUPT_TIMEOUT)
            try:
                stop = client.receive().decode("latin-1")
            except TimeoutError:
                results["interrupt_ignored"] = True
                server.kill()
                return
            client.sock.settimeout(None)
            results["interrupt"].append((time.perf_counter() - start) * 1000)
            check(stop[:1] in "TS", "interrupt: %r" % stop)
        client.kill()
    except Exception as e:
        raise BenchError("%s\n%s" % (e, server.errors())) from e
    finally:
        if client:
            client.close()
        server.stop()


def session_breakpoints(tools, name, counts, syms, results, mode="loop", key="bp"):
    """Breakpoint hit rate: every hit must be one iteration, then the program exits."""
    server = servers.STARTERS[name](tools, [mode, str(counts.hits)])
    client = None
    try:
        client = RspClient(server.port)
        client.handshake()
        stop_at(client, syms["ready"])
        client.insert_breakpoint(syms["hot"])
        start = time.perf_counter()
        for _ in range(counts.hits):
            stop = client.resume("c")
            check(stop.kind in "TS" and stop.signal == 5, "breakpoint: %r" % stop)
        results[key].append(counts.hits / (time.perf_counter() - start))
        client.remove_breakpoint(syms["hot"])
        stop = client.resume("c")
        check(stop.kind == "W", "after %d hits, want the exit, got %r" % (counts.hits, stop))
    except Exception as e:
        raise BenchError("%s\n%s" % (e, server.errors())) from e
    finally:
        if client:
            client.close()
        server.stop()


RUN_SECONDS = re.compile(r"run_seconds=([0-9.]+)")


def attach_idle(tools, name, counts, results):
    args = ["loop", str(counts.idle_loop[name])]
    plain = subprocess.run(servers.plain_argv(tools, name, args), check=True, capture_output=True,
                           text=True, timeout=600).stdout
    plain_seconds = float(RUN_SECONDS.search(plain).group(1))
    server = servers.STARTERS[name](tools, args)
    client = None
    try:
        client = RspClient(server.port, timeout=600)
        client.handshake()
        stop = client.resume("c")
        check(stop.kind == "W", "attach-idle: want the exit, got %r" % stop)
        attached_seconds = float(server.wait_output(RUN_SECONDS).group(1))
    except Exception as e:
        raise BenchError("%s\n%s" % (e, server.errors())) from e
    finally:
        if client:
            client.close()
        server.stop()
    results["idle"].append(attached_seconds / plain_seconds)
    results.setdefault("idle_plain", []).append(plain_seconds)
    results.setdefault("idle_attached", []).append(attached_seconds)


DEBUG_TARGET_SOURCE = "debug_target.c"
# The printf after the loops in debug_target.c's main.
PRINT_LINE = 81

GDB_ELAPSED = re.compile(r"bench_elapsed=([0-9.]+)")


def run_gdb(tools, name, program_args, setup, timed, checks, program_output=None):
    """gdb -batch against a fresh server; returns the seconds `timed` took, measured in gdb, and
    what gdb printed. program_output, a list, gets what the program's side printed."""
    server = servers.STARTERS[name](tools, program_args)
    try:
        argv = ["gdb", "-batch", "-nx", "-ex", "set pagination off", "-ex", "set confirm off",
                "-ex", "target remote 127.0.0.1:%d" % server.port]
        for cmd in setup + ["python import time; bench_t0 = time.monotonic()"] + timed + [
                "python print('bench_elapsed=%.6f' % (time.monotonic() - bench_t0))"] + checks + [
                "kill"]:
            argv += ["-ex", cmd]
        argv.append(tools.program)
        out = subprocess.run(argv, capture_output=True, text=True, timeout=900)
        text = out.stdout + out.stderr
        m = GDB_ELAPSED.search(text)
        check(m, "gdb printed no time:\n" + text[-3000:])
        if program_output is not None:
            program_output.append(server.output())
        return float(m.group(1)), text
    except Exception as e:
        raise BenchError("%s\n%s" % (e, server.errors())) from e
    finally:
        server.stop()


def gdb_figures(tools, name, counts, results):
    seconds, _ = run_gdb(tools, name, ["spin", "1"], ["break hot", "continue", "delete"],
                         ["stepi %d" % counts.gdb_steps], [])
    results["gdb_stepi"].append(seconds)

    seconds, text = run_gdb(tools, name, ["lines", "100000000"],
                            ["break lines", "continue", "delete", "next", "next"],
                            ["next %d" % counts.gdb_nexts], ["info line *$pc"])
    check(re.search(r"Line \d+ of .*debug_target\.c", text), "next left the loop:\n" + text[-2000:])
    results["gdb_next"].append(seconds)

    n = counts.gdb_false
    seconds, text = run_gdb(tools, name, ["loop", str(n + 1)], ["break ready", "continue",
                            "break hot if i == %d" % n], ["continue"], ["print i"])
    check(re.search(r"\$1 = %d\b" % n, text), "the condition stopped wrongly:\n" + text[-2000:])
    results["gdb_cond"].append(seconds)

    # gdbserver and km print an agent-style dprintf themselves, on the program's side, without
    # a stop; where the server cannot (qemu), gdb falls back to printing it at a stop per hit.
    printed = []
    seconds, text = run_gdb(tools, name, ["loop", str(n)],
                            ["set dprintf-style agent", "break ready", "continue",
                             r'dprintf hot,"hot %lu\n", i',
                             "break %s:%d" % (os.path.basename(DEBUG_TARGET_SOURCE), PRINT_LINE)],
                            ["continue"], [], printed)
    lines = len(re.findall(r"^hot \d+$", text + printed[0], re.M))
    check(lines == n, "%d dprintf lines, not %d:\n%s" % (lines, n, text[-2000:]))
    results["gdb_dprintf"].append(seconds)

    # km and gdbserver collect at each hit themselves; qemu's stub has no tracepoints. gdb reads
    # a tracepoint's actions from its input, so they come from a script.
    with tempfile.NamedTemporaryFile("w", suffix=".gdb") as script:
        # A buffer for every hit's frame on each server (the default 5 MiB is not).
        script.write("set trace-buffer-size 67108864\ntrace hot\nactions\ncollect i, $regs\n"
                     "end\n")
        script.flush()
        seconds, text = run_gdb(tools, name, ["loop", str(n)],
                                ["break ready", "continue", "source " + script.name,
                                 "break %s:%d" % (os.path.basename(DEBUG_TARGET_SOURCE),
                                                  PRINT_LINE), "tstart"],
                                ["continue"], ["tstatus"])
    if "Target does not support this command" in text:
        results.setdefault("unsupported", {})["gdb_trace"] = "no tracepoints"
    else:
        check("Collected %d trace frames." % n in text, "tracing collected something else:\n" +
              text[-2000:])
        results["gdb_trace"].append(seconds)

    # km records itself (monitor record on); the others get gdb's own `record full`, which
    # single-steps every instruction through the server. Recording starts inside the loop:
    # single-stepped natively, clock_gettime's vDSO retries forever (its seqlock moves on
    # between steps).
    record = "monitor record on" if name == "km" else "record full"
    seconds, text = run_gdb(tools, name, ["loop", str(counts.gdb_record)],
                            ["break hot", "continue", "delete", record,
                             "break %s:%d" % (os.path.basename(DEBUG_TARGET_SOURCE), PRINT_LINE)],
                            ["continue", "reverse-continue"], ["print counter"])
    if "doesn't support record function" in text:
        # qemu's gdbstub gives gdb no OS ABI for which gdb knows how to record.
        results.setdefault("unsupported", {})["gdb_record"] = "gdb cannot record here"
        return
    check("No more reverse-execution history" in text, "reverse-continue did not reach the "
          "recording's start:\n" + text[-2000:])
    results["gdb_record"].append(seconds)


def gdb_thread_figures(tools, name, counts, results):
    n = counts.gdb_hits
    seconds, text = run_gdb(tools, name, ["threads", str(n + 1)],
                            ["break ready", "continue", "break hot"],
                            ["python [gdb.execute('continue', to_string=True) for _ in range(%d)]" % n],
                            ["print i", "info threads"])
    threads = re.findall(r"^[ *] +\d+ +Thread ", text, re.M)
    check(re.search(r"\$1 = %d\b" % (n - 1), text) and len(threads) == 4,
          "the continues ended elsewhere, or not with 4 threads:\n" + text[-2000:])
    results["gdb_threads"].append(seconds)


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break

    def version(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "not found"

    kvm = os.path.exists("/dev/kvm") and os.access("/dev/kvm", os.R_OK | os.W_OK)
    return [
        "CPU: %d × %s; Linux %s" % (os.cpu_count(), model, platform.release()),
        "km engine: tcg (Unicorn)%s" % ("" if kvm else "; no /dev/kvm on this machine"),
        "gdb: %s; gdbserver: %s; qemu: %s" % (version(["gdb", "--version"]),
                                              version(["gdbserver", "--version"]),
                                              version(["qemu-x86_64", "--version"])),
        "load average at start: %s" % " ".join(open("/proc/loadavg").read().split()[:3]),
    ]


def cell(values, ignored=False, unsupported=None):
    if ignored:
        return "no stop in %.0f s" % INTERRUPT_TIMEOUT
    if unsupported:
        return unsupported
    if not values:
        return "failed"
    med = statistics.median(values)
    return "%s (%s–%s)" % (fmt(med), fmt(min(values)), fmt(max(values)))


def fmt(v):
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    if v >= 1:
        return "%.2f" % v
    return "%.3f" % v


def table(names, results, counts):
    lines = []
    head = ["figure", "unit"] + [SERVER_TITLES[n] for n in names]
    others = [n for n in names if n != "gdbserver"] if "gdbserver" in names else []
    head += ["%s / gdbserver" % n for n in others]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + " --- |" * len(head))
    for key, title, unit, higher in FIGURES:
        row = [title, unit] + [cell(results[n][key], key == "interrupt" and
                                    results[n].get("interrupt_ignored", False),
                                    results[n].get("unsupported", {}).get(key)) for n in names]
        for n in others:
            a, b = results[n][key], results["gdbserver"][key]
            row.append("%sx" % fmt(statistics.median(a) / statistics.median(b)) if a and b else "–")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("Counts: %d repetitions; stepi %d steps; %d breakpoint hits; %d KiB read; "
                 "%d interrupts per repetition; gdb: stepi %d, next %d, condition false (and "
                 "dprintf, tracepoint) %d times, record %d calls, %d continues among threads."
                 % (counts.reps, counts.steps, counts.hits, counts.memory >> 10, counts.interrupts,
                    counts.gdb_steps, counts.gdb_nexts, counts.gdb_false, counts.gdb_record,
                    counts.gdb_hits))
    details = []
    for n in names:
        r = results[n]
        if r.get("memory_chunk"):
            details.append("%s reads %d bytes per m packet" % (n, r["memory_chunk"][0]))
    lines.append("Memory: " + "; ".join(details) + ".")
    details = []
    for n in names:
        r = results[n]
        if r.get("idle_plain"):
            details.append("%s %d iterations, %s s without a debugger, %s s attached" % (
                n, counts.idle_loop[n], fmt(statistics.median(r["idle_plain"])),
                fmt(statistics.median(r["idle_attached"]))))
    lines.append("Attach-idle (medians): " + "; ".join(details) + ".")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke test")
    parser.add_argument("--reps", type=int, help="repetitions of every figure")
    parser.add_argument("--servers", default="km,gdbserver,qemu")
    parser.add_argument("--output", help="also write the Markdown here")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--km", default=os.environ.get("KM", os.path.join(root, "km/km")))
    parser.add_argument("--agent", default=os.environ.get(
        "KM_GDB_AGENT", os.path.join(root, "agent/km-gdb-agent")))
    parser.add_argument("--program", default=os.path.join(root, "bench/bin/debug_target"))
    args = parser.parse_args()

    counts = Counts(args.quick)
    if args.reps:
        counts.reps = args.reps
    names = args.servers.split(",")
    tools = servers.Tools(os.path.abspath(args.km), os.path.abspath(args.agent),
                          os.path.abspath(args.program), "qemu-x86_64", "gdbserver")
    syms = symbols(tools.program)
    results = {n: {key: [] for key, _, _, _ in FIGURES} for n in names}
    header = machine()
    failures = []
    for rep in range(counts.reps):
        for n in names:
            for what, run in [("spin", lambda: session_spin(tools, n, counts, syms, results[n])),
                              ("breakpoints",
                               lambda: session_breakpoints(tools, n, counts, syms, results[n])),
                              ("breakpoints, threads",
                               lambda: session_breakpoints(tools, n, counts, syms, results[n],
                                                           "threads", "bp_threads")),
                              ("attach-idle", lambda: attach_idle(tools, n, counts, results[n])),
                              ("gdb", lambda: gdb_figures(tools, n, counts, results[n])),
                              ("gdb, threads",
                               lambda: gdb_thread_figures(tools, n, counts, results[n]))]:
                started = time.monotonic()
                try:
                    run()
                except Exception as e:  # noqa: BLE001 — one server's failure must not hide the rest
                    failures.append("%s %s (rep %d): %s: %s" % (n, what, rep + 1,
                                                                type(e).__name__, e))
                print("rep %d %s %s: %.1f s" % (rep + 1, n, what, time.monotonic() - started),
                      file=sys.stderr, flush=True)
    header.append("load average at end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    text = "\n".join("- " + h for h in header) + "\n\n" + table(names, results, counts) + "\n"
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    for f in failures:
        print("FAILED: " + f, file=sys.stderr)
    missing = ["%s %s" % (n, key) for n in names for key, _, _, _ in FIGURES
               if not results[n][key] and not (key == "interrupt" and
                                               results[n].get("interrupt_ignored"))
               and key not in results[n].get("unsupported", {})]
    if missing:
        print("no figure for: " + ", ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
