"""A minimal GDB Remote Serial Protocol client: just enough to time a server, no gdb involved.

It negotiates what the benchmark needs (PacketSize, no-ack mode when offered), speaks
all-stop vCont and decodes what servers send back (run-length encoding, binary escapes,
console output packets, which it skips).
"""

import re
import socket
import time


class RspError(Exception):
    pass


def checksum(data: bytes) -> bytes:
    return b"%02x" % (sum(data) & 0xFF)


_RUN = re.compile(rb"(.)\*(.)", re.S)


def decode_payload(data: bytes) -> bytes:
    """Undoes run-length encoding (x*n) and binary escapes (}x) in a received packet."""
    # Fast paths, so that decoding a large memory reply does not dominate what is timed.
    if b"}" not in data:
        if b"*" not in data:
            return data
        return _RUN.sub(lambda m: m.group(1) * (m.group(2)[0] - 28), data)
    out = bytearray()
    i = 0
    while i < len(data):
        c = data[i]
        if c == ord("}"):
            out.append(data[i + 1] ^ 0x20)
            i += 2
        elif c == ord("*"):
            out.extend(out[-1:] * (data[i + 1] - 29))
            i += 2
        else:
            out.append(c)
            i += 1
    return bytes(out)


class StopReply:
    """A stop reply: T/S (stopped), W (exited) or X (killed by a signal)."""

    def __init__(self, text: str):
        self.text = text
        self.kind = text[:1]
        self.signal = int(text[1:3], 16) if self.kind in "TSX" else None
        self.thread = None
        if self.kind == "T":
            m = re.search(r"thread:([^;]+);", text)
            if m:
                self.thread = m.group(1)

    def __repr__(self):
        return "StopReply(%r)" % self.text[:60]


class RspClient:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 60.0):
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=timeout)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.acks = True
        self.packet_size = 4096
        self.features = {}

    def close(self):
        self.sock.close()

    # Framing.

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise RspError("the server closed the connection")
        self.buf += data

    def send(self, payload: str | bytes):
        if isinstance(payload, str):
            payload = payload.encode()
        frame = b"$" + payload + b"#" + checksum(payload)
        while True:
            self.sock.sendall(frame)
            if not self.acks:
                return
            while not self.buf:
                self._fill()
            ack = self.buf[0]
            del self.buf[0]
            if ack == ord("+"):
                return
            if ack != ord("-"):
                raise RspError("expected an ack, got %r" % chr(ack))

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def receive(self) -> bytes:
        """One packet's decoded payload; console output packets are collected on the side."""
        while True:
            while True:
                start = self.buf.find(b"$")
                if start >= 0:
                    end = self.buf.find(b"#", start)
                    if end >= 0 and len(self.buf) >= end + 3:
                        break
                self._fill()
            raw = bytes(self.buf[start + 1:end])
            sent_sum = bytes(self.buf[end + 1:end + 3])
            del self.buf[:end + 3]
            if checksum(raw) != sent_sum.lower():
                if self.acks:
                    self.sock.sendall(b"-")
                    continue
                raise RspError("bad checksum on %r" % raw[:40])
            if self.acks:
                self.sock.sendall(b"+")
            data = decode_payload(raw)
            # An O packet is the program's output forwarded by the server: not an answer.
            if data[:1] == b"O" and data != b"OK" and _is_hex(data[1:]):
                continue
            return data

    def request(self, payload: str | bytes) -> str:
        self.send(payload)
        return self.receive().decode("latin-1")

    # Protocol.

    def handshake(self) -> StopReply:
        reply = self.request("qSupported:multiprocess-;swbreak+;hwbreak+;vContSupported+")
        for item in reply.split(";"):
            if "=" in item:
                key, value = item.split("=", 1)
                self.features[key] = value
            elif item:
                self.features[item[:-1]] = item[-1]
        if "PacketSize" in self.features:
            self.packet_size = int(self.features["PacketSize"], 16)
        if self.features.get("QStartNoAckMode") == "+":
            if self.request("QStartNoAckMode") != "OK":
                raise RspError("QStartNoAckMode refused")
            self.acks = False
        return StopReply(self.request("?"))

    def resume(self, action: str) -> StopReply:
        return StopReply(self.request("vCont;" + action))

    def insert_breakpoint(self, addr: int):
        reply = self.request("Z0,%x,1" % addr)
        if reply != "OK":
            raise RspError("Z0 at 0x%x: %r" % (addr, reply))

    def remove_breakpoint(self, addr: int):
        reply = self.request("z0,%x,1" % addr)
        if reply != "OK":
            raise RspError("z0 at 0x%x: %r" % (addr, reply))

    def read_memory(self, addr: int, length: int) -> bytes:
        reply = self.request("m%x,%x" % (addr, length))
        try:
            return bytes.fromhex(reply)
        except ValueError:
            raise RspError("m%x,%x: %r" % (addr, length, reply[:40])) from None

    def kill(self):
        """Ends the program; the server may drop the connection without a reply."""
        try:
            self.send("k")
        except OSError:
            pass


def _is_hex(data: bytes) -> bool:
    return all(c in b"0123456789abcdefABCDEF" for c in data)
