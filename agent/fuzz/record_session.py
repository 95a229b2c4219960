#!/usr/bin/env python3
"""Records what a real gdb or lldb sends to km-gdb-agent, to seed the fuzz corpora.

record_session.py AGENT_PORT OUT_FILE gdb -- GDB-ARGS...
record_session.py AGENT_PORT OUT_FILE lldb -- LLDB-ARGS...
listens on a free local port, runs the debugger connected to it (gdb: "target remote", then
GDB-ARGS such as -ex ...; lldb: the payload and -o commands in LLDB-ARGS, after "gdb-remote"),
relays both directions to the agent at AGENT_PORT and writes every byte the debugger sent to
OUT_FILE.
"""
import selectors
import socket
import subprocess
import sys
import threading


def relay(client_conn, agent_conn, out):
    sel = selectors.DefaultSelector()
    sel.register(client_conn, selectors.EVENT_READ, (agent_conn, out))
    sel.register(agent_conn, selectors.EVENT_READ, (client_conn, None))
    while True:
        for key, _ in sel.select():
            data = key.fileobj.recv(65536)
            peer, record = key.data
            if not data:
                return
            if record is not None:
                record.write(data)
            peer.sendall(data)


def client_argv(kind, port, args):
    if kind == "gdb":
        return ["gdb", "-nx", "-batch", "-ex", f"target remote 127.0.0.1:{port}"] + args
    if kind == "lldb":
        # lldb runs its -o commands in order: the connection must come first.
        payload, commands = args[0], args[1:]
        return ["lldb", "--no-lldbinit", "--batch", payload, "-o",
                f"gdb-remote 127.0.0.1:{port}"] + commands
    sys.exit(f"record_session.py: unknown debugger {kind!r} (gdb or lldb)")


def main():
    agent_port, out_path, kind = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    args = sys.argv[sys.argv.index("--") + 1:]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    client = subprocess.Popen(client_argv(kind, port, args))
    client_conn, _ = listener.accept()
    agent_conn = socket.create_connection(("127.0.0.1", agent_port))
    with open(out_path, "wb") as out:
        t = threading.Thread(target=relay, args=(client_conn, agent_conn, out), daemon=True)
        t.start()
        client.wait(timeout=120)
        t.join(timeout=5)
    return client.returncode


if __name__ == "__main__":
    sys.exit(main())
