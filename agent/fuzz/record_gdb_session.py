#!/usr/bin/env python3
"""Records what a real gdb sends to km-gdb-agent, to seed the fuzz corpora.

record_gdb_session.py AGENT_PORT OUT_FILE -- GDB-ARGS...: listens on a free local port, runs gdb
with "target remote" pointed at it (GDB-ARGS are passed on, e.g. -batch -ex ...), relays both
directions to the agent at AGENT_PORT and writes every byte gdb sent to OUT_FILE.
"""
import selectors
import socket
import subprocess
import sys
import threading


def relay(gdb_conn, agent_conn, out):
    sel = selectors.DefaultSelector()
    sel.register(gdb_conn, selectors.EVENT_READ, (agent_conn, out))
    sel.register(agent_conn, selectors.EVENT_READ, (gdb_conn, None))
    while True:
        for key, _ in sel.select():
            data = key.fileobj.recv(65536)
            peer, record = key.data
            if not data:
                return
            if record is not None:
                record.write(data)
            peer.sendall(data)


def main():
    agent_port, out_path = int(sys.argv[1]), sys.argv[2]
    gdb_args = sys.argv[sys.argv.index("--") + 1:]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    gdb = subprocess.Popen(["gdb", "-nx", "-batch", "-ex", f"target remote 127.0.0.1:{port}"]
                           + gdb_args)
    gdb_conn, _ = listener.accept()
    agent_conn = socket.create_connection(("127.0.0.1", agent_port))
    with open(out_path, "wb") as out:
        t = threading.Thread(target=relay, args=(gdb_conn, agent_conn, out), daemon=True)
        t.start()
        gdb.wait(timeout=120)
        t.join(timeout=5)
    return gdb.returncode


if __name__ == "__main__":
    sys.exit(main())
