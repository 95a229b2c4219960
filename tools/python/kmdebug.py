"""A small Python client for km's debug service (proto/km_debug.proto, package km.debug.v1).

Needs Debian's python3-grpcio, python3-protobuf and python3-pyelftools (tools/setup.sh installs
them; run scripts with /usr/bin/python3) and the stubs `bazel build //tools/python:km_debug_py`
generates from the proto. docs/scripting.md shows it in use.
"""
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time


def _find_stubs():
    # Under `bazel run`/`bazel test` the stubs sit beside this file in the runfiles; in a checkout
    # they are in bazel-bin. Python resolves a symlinked script's directory, so look at both.
    here = os.path.dirname(os.path.abspath(__file__))
    checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    for d in (here, os.path.join(checkout, "bazel-bin", "tools", "python")):
        if os.path.exists(os.path.join(d, "km_debug_pb2.py")) and d not in sys.path:
            sys.path.insert(0, d)


_find_stubs()
try:
    import grpc
    import km_debug_pb2 as pb
    import km_debug_pb2_grpc as pb_grpc
    from elftools.elf.elffile import ELFFile
except ImportError as e:
    sys.exit(f"kmdebug: {e}: run tools/setup.sh, `bazel build //tools/python:km_debug_py`, "
             "and use /usr/bin/python3 (Debian's python3-grpcio)")


def symbol_address(elf_path, spec, load_bias=0):
    """The run-time address of SYMBOL or SYMBOL+OFFSET, from the ELF's .symtab."""
    name, _, offset = spec.partition("+")
    with open(elf_path, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        if symtab is None:
            raise LookupError(f"{elf_path} has no .symtab (stripped?)")
        found = symtab.get_symbol_by_name(name)
        if not found:
            raise LookupError(f"no symbol '{name}' in {elf_path}")
        return load_bias + found[0]["st_value"] + (int(offset, 0) if offset else 0)


class Km:
    """km running a payload with --debug-socket and --debug-wait: held before its first
    instruction until a client resumes it. km's stdout and stderr are this process's."""

    def __init__(self, km_path, payload, args=(), accel=None):
        self._dir = tempfile.mkdtemp(prefix="kmdebug-")
        self.socket = os.path.join(self._dir, "km.sock")
        cmd = [km_path] + ([f"--accel={accel}"] if accel else [])
        cmd += ["--debug-socket", self.socket, "--debug-wait", payload, *args]
        self.process = subprocess.Popen(cmd)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            if self.process.poll() is not None:
                raise RuntimeError(f"km exited with {self.process.returncode} before serving")
            if time.monotonic() > deadline:
                raise TimeoutError(f"km made no socket at {self.socket} in 10 s")
            time.sleep(0.01)
        self.channel = grpc.insecure_channel("unix:" + self.socket)
        self.debug = pb_grpc.DebugStub(self.channel)

    def close(self, timeout=20):
        """Waits for km to end (killing it after timeout); its exit status."""
        self.channel.close()
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)
        return status


class Session:
    """The controlling debug session: Attach, with the Events stream read on a thread, since the
    session lives only as long as that stream. It ends when km's channel closes (Km.close) or
    with debug.Detach(pb.DetachRequest(session=id)); either way km removes every breakpoint."""

    def __init__(self, debug, client_name):
        self.debug = debug
        self.id = debug.Attach(pb.AttachRequest(client_name=client_name)).session
        self._events = queue.Queue()
        self._stream = debug.Events(pb.EventsRequest(session=self.id))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for event in self._stream:
                self._events.put(event)
        except grpc.RpcError:
            pass
        self._events.put(None)

    def next_event(self, timeout=60):
        """The next event, or None once the stream has ended."""
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no event from km in {timeout} s") from None

    def insert_breakpoint(self, addr, kind=pb.BREAKPOINT_KIND_SOFTWARE, length=0):
        self.debug.InsertBreakpoint(
            pb.BreakpointRequest(session=self.id, kind=kind, addr=addr, len=length))

    def remove_breakpoint(self, addr, kind=pb.BREAKPOINT_KIND_SOFTWARE, length=0):
        self.debug.RemoveBreakpoint(
            pb.BreakpointRequest(session=self.id, kind=kind, addr=addr, len=length))

    def resume_all(self):
        self.debug.Resume(pb.ResumeRequest(session=self.id, actions=[pb.ThreadAction(tid=0)]))
