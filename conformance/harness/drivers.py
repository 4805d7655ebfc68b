"""Broker clients the harness uses to publish inputs and read outputs.

Each driver speaks its broker's own protocol with the Python standard
library only (sockets and threads), so the harness needs no packages and
links nothing of the host under test. A driver carries data only: the suite
checks metadata inside guests, so no driver needs to know how a host maps
metadata onto a broker.

MQTT and AMQP are in drivers_mq.py.

Driver interface:
    publish(topic, data: bytes)
    subscribe(topic) -> Subscription   (exact topics, no wildcards)
    close()
Subscription.get(timeout) -> (topic, data) or None; Subscription.close().
Topics are the suite's dotted names; a driver maps them to its broker
(MQTT: '.' -> '/').
"""

import queue
import socket
import struct
import threading
import time


class DriverError(Exception):
    pass


class Subscription:
    def __init__(self, closer=None):
        self._q = queue.Queue()
        self._closer = closer

    def put(self, topic, data):
        self._q.put((topic, data))

    def get(self, timeout):
        try:
            return self._q.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def close(self):
        if self._closer:
            closer, self._closer = self._closer, None
            closer()


def _recv_exact(sock, n):
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise DriverError("connection closed by the server")
        out += chunk
    return bytes(out)


def _connect_tcp(host, port, timeout=5.0):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(None)
    return s


# ---------------------------------------------------------------- Ferry control socket

def _start_reading(subs, sub, reader):
    """Runs `reader` (which feeds `sub`) on a daemon thread; keeps `sub` in
    `subs` for the driver's close()."""
    threading.Thread(target=reader, daemon=True).start()
    subs.append(sub)
    return sub


class FerryControlDriver:
    """Ferry's embedded broker through its control socket.

    Wire format (src/runtime/control_protocol.h): every frame is a u32
    big-endian length then the body; `str` is a u32 length and bytes.
      request := version=1:u8 op:u8 broker:str body
        publish(1): message;  subscribe(3): pattern:str count:u32
      reply := code:u8 text:str   (code 0: ok)
      subscribe: after the ok reply, frames `1:u8 message`, or `0:u8` at the end
      message := topic:str data:str has_type:u8 [type:str] n:u32 (k:str v:str)*n reply_to:str
    One connection carries one request.
    """

    def __init__(self, socket_path, broker="default"):
        if not hasattr(socket, "AF_UNIX"):
            raise DriverError("this Python has no Unix sockets: the ferry-control access needs them")
        self.path = socket_path
        self.broker = broker
        self._subs = []

    @staticmethod
    def _str(b):
        return struct.pack(">I", len(b)) + b

    def _open(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.path)
        s.settimeout(None)
        return s

    def _frame(self, body):
        return struct.pack(">I", len(body)) + body

    @staticmethod
    def _read_frame(s):
        (n,) = struct.unpack(">I", _recv_exact(s, 4))
        return _recv_exact(s, n)

    def _message(self, topic, data):
        return (self._str(topic.encode()) + self._str(data) + b"\x00" + struct.pack(">I", 0)
                + self._str(b""))

    @staticmethod
    def _outcome(body):
        code = body[0]
        (n,) = struct.unpack(">I", body[1:5])
        text = body[5:5 + n].decode(errors="replace")
        return code, text, body[5 + n:]

    @staticmethod
    def _parse_message(b):
        pos = 0

        def take_str():
            nonlocal pos
            (n,) = struct.unpack(">I", b[pos:pos + 4])
            pos += 4
            v = b[pos:pos + n]
            pos += n
            return v
        topic = take_str().decode()
        data = take_str()
        has_type = b[pos]
        pos += 1
        if has_type:
            take_str()
        (n,) = struct.unpack(">I", b[pos:pos + 4])
        pos += 4
        for _ in range(n):
            take_str()
            take_str()
        take_str()
        return topic, data

    def publish(self, topic, data):
        s = self._open()
        try:
            body = bytes([1, 1]) + self._str(self.broker.encode()) + self._message(topic, data)
            s.sendall(self._frame(body))
            code, text, _ = self._outcome(self._read_frame(s))
            if code != 0:
                raise DriverError(f"publish to {topic} failed: {text}")
        finally:
            s.close()

    def subscribe(self, topic):
        s = self._open()
        body = (bytes([1, 3]) + self._str(self.broker.encode()) + self._str(topic.encode())
                + struct.pack(">I", 0))
        s.sendall(self._frame(body))
        code, text, _ = self._outcome(self._read_frame(s))
        if code != 0:
            s.close()
            raise DriverError(f"subscribe to {topic} failed: {text}")

        def close():
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        sub = Subscription(close)

        def reader():
            try:
                while True:
                    f = self._read_frame(s)
                    if not f or f[0] == 0:
                        return
                    sub.put(*self._parse_message(f[1:]))
            except (OSError, DriverError, struct.error, IndexError):
                return
        return _start_reading(self._subs, sub, reader)

    def close(self):
        for sub in self._subs:
            sub.close()


# ---------------------------------------------------------------- NATS (core protocol)

class _CrlfReader:
    """Buffered reads of CRLF-framed protocols (NATS, RESP) over `self.sock`."""

    _name = "connection"

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise DriverError(f"{self._name}: connection closed")
        self._buf += chunk

    def _line(self):
        while b"\r\n" not in self._buf:
            self._fill()
        line, self._buf = self._buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        """`n` bytes and the CRLF after them."""
        while len(self._buf) < n + 2:
            self._fill()
        out, self._buf = self._buf[:n], self._buf[n + 2:]
        return out


class NatsDriver(_CrlfReader):
    """Core NATS over its text protocol: CONNECT, PUB, SUB, MSG and HMSG."""

    _name = "nats"

    def __init__(self, host, port):
        self.sock = _connect_tcp(host, port)
        self._wlock = threading.Lock()
        self._subs = {}
        self._sid = 0
        self._buf = b""
        info = self._line()
        if not info.startswith(b"INFO"):
            raise DriverError(f"nats: unexpected greeting {info[:60]!r}")
        self._send(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"name":"conformance"}\r\n'
                   b"PING\r\n")
        while True:
            line = self._line()
            if line == b"PONG":
                break
            if line.startswith(b"-ERR"):
                raise DriverError(f"nats: {line.decode(errors='replace')}")
        self._pong = threading.Event()
        threading.Thread(target=self._reader, daemon=True).start()

    def _send(self, b):
        with self._wlock:
            self.sock.sendall(b)

    def _reader(self):
        try:
            while True:
                line = self._line()
                if line.startswith(b"MSG "):
                    parts = line.split()
                    subject, sid, size = parts[1], parts[2], int(parts[-1])
                    data = self._take(size)
                    self._deliver(sid, subject, data)
                elif line.startswith(b"HMSG "):
                    parts = line.split()
                    subject, sid = parts[1], parts[2]
                    hdr, total = int(parts[-2]), int(parts[-1])
                    raw = self._take(total)
                    self._deliver(sid, subject, raw[hdr:])
                elif line == b"PING":
                    self._send(b"PONG\r\n")
                elif line == b"PONG":
                    self._pong.set()
        except (OSError, DriverError):
            return

    def _deliver(self, sid, subject, data):
        sub = self._subs.get(sid.decode())
        if sub:
            sub.put(subject.decode(), data)

    def flush(self, timeout=5.0):
        self._pong.clear()
        self._send(b"PING\r\n")
        self._pong.wait(timeout)

    def publish(self, topic, data):
        self._send(b"PUB " + topic.encode() + b" " + str(len(data)).encode() + b"\r\n" + data + b"\r\n")

    def subscribe(self, topic):
        self._sid += 1
        sid = str(self._sid)

        def close():
            self._subs.pop(sid, None)
            try:
                self._send(f"UNSUB {sid}\r\n".encode())
            except OSError:
                pass
        sub = Subscription(close)
        self._subs[sid] = sub
        self._send(f"SUB {topic} {sid}\r\n".encode())
        self.flush()
        return sub

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- Redis (RESP2)

def _resp_command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _RespConn(_CrlfReader):
    _name = "redis"

    def __init__(self, host, port):
        self.sock = _connect_tcp(host, port)
        self._buf = b""

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise DriverError("redis: " + rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            return self._take(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise DriverError(f"redis: unexpected reply {line[:40]!r}")

    def call(self, *args):
        self.sock.sendall(_resp_command(*args))
        return self.read()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class RedisPubSubDriver:
    """Redis pub/sub: PUBLISH on a command connection, SUBSCRIBE on one per subscription."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.cmd = _RespConn(host, port)
        self._lock = threading.Lock()
        self._subs = []

    def publish(self, topic, data):
        with self._lock:
            self.cmd.call("PUBLISH", topic, data)

    def subscribe(self, topic):
        conn = _RespConn(self.host, self.port)
        reply = conn.call("SUBSCRIBE", topic)
        if not reply or reply[0] != b"subscribe":
            raise DriverError(f"redis: SUBSCRIBE {topic} got {reply!r}")
        sub = Subscription(conn.close)

        def reader():
            try:
                while True:
                    m = conn.read()
                    if isinstance(m, list) and m and m[0] == b"message":
                        sub.put(m[1].decode(), m[2])
            except (OSError, DriverError):
                return
        return _start_reading(self._subs, sub, reader)

    def close(self):
        for s in self._subs:
            s.close()
        self.cmd.close()


class RedisStreamsDriver:
    """Redis Streams: XADD key * data <bytes>; a subscription XREADs the key
    from the entry that was last when it started."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.cmd = _RespConn(host, port)
        self._lock = threading.Lock()
        self._subs = []

    def publish(self, topic, data):
        with self._lock:
            self.cmd.call("XADD", topic, "*", "data", data)

    def subscribe(self, topic):
        conn = _RespConn(self.host, self.port)
        last = conn.call("XREVRANGE", topic, "+", "-", "COUNT", "1")
        start = last[0][0] if last else b"0-0"
        stop = threading.Event()

        def close():
            stop.set()
            conn.close()
        sub = Subscription(close)

        def reader():
            at = start
            try:
                while not stop.is_set():
                    got = conn.call("XREAD", "BLOCK", "500", "STREAMS", topic, at)
                    for _, entries in got or []:
                        for entry_id, fields in entries:
                            at = entry_id
                            f = dict(zip(fields[::2], fields[1::2]))
                            sub.put(topic, f.get(b"data", b""))
            except (OSError, DriverError):
                return
        return _start_reading(self._subs, sub, reader)

    def close(self):
        for s in self._subs:
            s.close()
        self.cmd.close()


def wait_port(host, port, timeout):
    """True once something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False
