"""Memory-read throughput of two km-gdb-agent builds side by side, with gdbserver as the peer.

A change to the agent's packet path is judged against the agent before it on the same machine
in the same minutes: runs alternate old, new, gdbserver, REPS times, each reading TOTAL MiB of
debug_target's buffer in the largest `m` packets the server allows. Prints each run and the
medians; the ratio to gdbserver uses the medians of the same runs.

  agent_ab.py --old AGENT --new AGENT [--reps 5] [--mib 64] [--km KM] [--program PROGRAM]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debug_bench  # noqa: E402
import servers  # noqa: E402
from rsp_client import RspClient  # noqa: E402

BUFFER = 8 << 20  # debug_target's buffer, as debug_bench's `spin` session fills it


def read_rate(tools, name, total):
    server = servers.STARTERS[name](tools, ["spin", str(BUFFER)])
    try:
        client = RspClient(server.port)
        client.handshake()
        syms = debug_bench.symbols(tools.program)
        debug_bench.stop_at(client, syms["ready"])
        debug_bench.stop_at(client, syms["hot"])
        chunk = min((client.packet_size - 32) // 2, 1 << 20)
        chunk -= chunk % 64
        done = 0
        start = time.perf_counter()
        while done < total:
            done += len(client.read_memory(syms["buffer"] + done % (BUFFER - chunk), chunk))
        rate = total / (time.perf_counter() - start) / (1 << 20)
        client.kill()
        return rate, chunk
    finally:
        server.stop()


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", required=True)
    parser.add_argument("--new", required=True)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--km", default=os.path.join(root, "km/km"))
    parser.add_argument("--program", default=os.path.join(root, "bench/bin/debug_target"))
    args = parser.parse_args()
    runs = {"old": [], "new": [], "gdbserver": []}
    for rep in range(args.reps):
        for label in runs:
            agent = {"old": args.old, "new": args.new}.get(label, args.new)
            tools = servers.Tools(os.path.abspath(args.km), os.path.abspath(agent),
                                  os.path.abspath(args.program), "qemu-x86_64", "gdbserver")
            rate, chunk = read_rate(tools, "gdbserver" if label == "gdbserver" else "km",
                                    args.mib << 20)
            runs[label].append(rate)
            print("rep %d %-9s %6.1f MiB/s (%d bytes per m)" % (rep + 1, label, rate, chunk))
    med = {label: statistics.median(r) for label, r in runs.items()}
    for label, r in runs.items():
        print("%-9s median %6.1f MiB/s (%.1f-%.1f), %.2fx gdbserver" %
              (label, med[label], min(r), max(r), med[label] / med["gdbserver"]))


if __name__ == "__main__":
    main()
