"""A raw RESP client for tests that must see exact reply bytes.

RawConn.call(*args) sends one command as a RESP array and returns the raw
bytes of one complete reply (RESP2 or RESP3), so tests and the differential
suite can compare servers byte for byte.
"""
import socket
import time


class RespError(Exception):
    pass


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        elif isinstance(a, float):
            a = repr(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RawConn:
    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by server")
        self.buf += chunk

    def _line(self, pos):
        while True:
            i = self.buf.find(b"\r\n", pos)
            if i >= 0:
                return i
            self._fill()

    def _skip(self, pos):
        """Returns the offset just past the reply starting at pos."""
        while len(self.buf) <= pos:
            self._fill()
        t = self.buf[pos:pos + 1]
        eol = self._line(pos)
        head = self.buf[pos + 1:eol]
        nxt = eol + 2
        if t in b"+-:_,#(":
            return nxt
        if t in b"$=!":
            n = int(head)
            if n < 0:
                return nxt
            while len(self.buf) < nxt + n + 2:
                self._fill()
            return nxt + n + 2
        if t in b"*~>%|":
            n = int(head)
            if n < 0:
                return nxt
            if t in b"%|":
                n *= 2
            for _ in range(n):
                nxt = self._skip(nxt)
            return nxt
        raise RespError("unknown reply type %r in %r" % (t, self.buf[pos:pos + 40]))

    def read_reply(self):
        end = self._skip(0)
        out, self.buf = self.buf[:end], self.buf[end:]
        return out

    def call(self, *args):
        self.sock.sendall(encode(*args))
        return self.read_reply()

    def closed_by_peer(self, timeout=5.0):
        """True when the server closes the connection before the deadline."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.2)
        try:
            while time.monotonic() < deadline:
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    continue
                except ConnectionResetError:
                    return True
                if not chunk:
                    return True
                self.buf += chunk
            return False
        finally:
            self.sock.settimeout(10.0)
