"""Starts the three debug servers the benchmark compares, each on a fresh run of the program.

km:        km --debug-socket S --debug-wait PROGRAM + km-gdb-agent --debug-socket S --port 0
gdbserver: gdbserver --once 127.0.0.1:0 PROGRAM (the same static binary, run natively)
qemu:      qemu-x86_64 -g PORT PROGRAM

Each start returns a Server whose port takes one RSP connection and whose program's stdout is
kept (the program prints its own run time).
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time


class ServerError(Exception):
    pass


def _wait_for(predicate, what, timeout=20.0, proc=None):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise ServerError("%s: the process ended (status %s)" % (what, proc.returncode))
        if time.monotonic() > deadline:
            raise ServerError("%s: timed out" % what)
        time.sleep(0.01)


def _read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """Processes started for one run; the last one's stdout is the program's."""

    def __init__(self, name, workdir):
        self.name = name
        self.workdir = workdir
        self.procs = []
        self.port = None
        self.program_stdout = None

    def spawn(self, argv, label):
        out = os.path.join(self.workdir, label + ".out")
        err = os.path.join(self.workdir, label + ".err")
        with open(out, "wb") as o, open(err, "wb") as e:
            proc = subprocess.Popen(argv, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
        self.procs.append((proc, out, err))
        return proc, out, err

    def output(self):
        """The program's stdout so far."""
        return _read(self.program_stdout)

    def wait_output(self, pattern, timeout=120.0):
        return _wait_for(lambda: re.search(pattern, self.output()), self.name + " output", timeout)

    def stop(self):
        """Waits briefly for the processes to end on their own (they were told to), then kills."""
        deadline = time.monotonic() + 5
        for proc, _, _ in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def kill(self):
        """For a program that would never end on its own."""
        for proc, _, _ in self.procs:
            if proc.poll() is None:
                proc.kill()

    def errors(self):
        return "\n".join("%s: %s" % (err, _read(err)[-2000:]) for _, _, err in self.procs)


class Tools:
    """Where the binaries are."""

    def __init__(self, km, agent, program, qemu, gdbserver):
        self.km = km
        self.agent = agent
        self.program = program
        self.qemu = qemu
        self.gdbserver = gdbserver


def start_km(tools, args):
    s = Server("km", tempfile.mkdtemp(prefix="kmb-", dir="/tmp"))  # unix socket paths are short
    sock = os.path.join(s.workdir, "km.sock")
    km, out, _ = s.spawn([tools.km, "--accel=tcg", "--debug-socket", sock, "--debug-wait",
                          tools.program] + args, "km")
    s.program_stdout = out
    _wait_for(lambda: os.path.exists(sock), "km's debug socket", proc=km)
    agent, _, err = s.spawn([tools.agent, "--debug-socket", sock, "--port", "0", "--once"], "agent")
    m = _wait_for(lambda: re.search(r"listening on [^:]+:(\d+)", _read(err)), "the agent's port",
                  proc=agent)
    s.port = int(m.group(1))
    return s


def start_gdbserver(tools, args):
    s = Server("gdbserver", tempfile.mkdtemp(prefix="kmb-", dir="/tmp"))
    proc, out, err = s.spawn([tools.gdbserver, "--once", "127.0.0.1:0", tools.program] + args,
                             "gdbserver")
    s.program_stdout = out
    m = _wait_for(lambda: re.search(r"Listening on port (\d+)", _read(err)), "gdbserver's port",
                  proc=proc)
    s.port = int(m.group(1))
    return s


def start_qemu(tools, args):
    s = Server("qemu", tempfile.mkdtemp(prefix="kmb-", dir="/tmp"))
    # qemu-user cannot be told to pick a port: take a free one, and retry if it got taken.
    for _ in range(5):
        port = _free_port()
        proc, out, _ = s.spawn([tools.qemu, "-g", str(port), tools.program] + args, "qemu")
        s.program_stdout = out
        if _wait_for(lambda: proc.poll() is not None or _listening(port), "qemu's port"):
            if proc.poll() is None:
                s.port = port
                return s
        s.procs.pop()
    raise ServerError("qemu-x86_64 -g: no port it could listen on")


def _listening(port):
    """Whether something listens on 127.0.0.1:port, from /proc (connecting would use it up)."""
    hexport = ":%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1].endswith(hexport) and fields[3] == "0A":  # 0A: LISTEN
                return True
    return False


STARTERS = {"km": start_km, "gdbserver": start_gdbserver, "qemu": start_qemu}


def plain_argv(tools, name, args):
    """The same program with no debugger at all, for the attach-idle baseline."""
    if name == "km":
        return [tools.km, "--accel=tcg", tools.program] + args
    if name == "qemu":
        return [tools.qemu, tools.program] + args
    return [tools.program] + args
