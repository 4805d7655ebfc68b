"""Broker clients the harness uses to publish inputs and read outputs.

Each driver speaks its broker's own protocol with the Python standard
library only (sockets and threads), so the harness needs no packages and
links nothing of the host under test. A driver carries data only: the suite
checks metadata inside guests, so no driver needs to know how a host maps
metadata onto a broker.

Driver interface:
    publish(topic, data: bytes)
    subscribe(topic) -> Subscription   (exact topics, no wildcards)
    close()
Subscription.get(timeout) -> (topic, data) or None; Subscription.close().
Topics are the suite's dotted names; a driver maps them to its broker
(MQTT: '.' -> '/').
"""

import os
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
        threading.Thread(target=reader, daemon=True).start()
        self._subs.append(sub)
        return sub

    def close(self):
        for sub in self._subs:
            sub.close()


# ---------------------------------------------------------------- NATS (core protocol)

class NatsDriver:
    """Core NATS over its text protocol: CONNECT, PUB, SUB, MSG and HMSG."""

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

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise DriverError("nats: connection closed")
        self._buf += chunk

    def _line(self):
        while b"\r\n" not in self._buf:
            self._fill()
        line, self._buf = self._buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self._buf) < n + 2:
            self._fill()
        out, self._buf = self._buf[:n], self._buf[n + 2:]
        return out

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


class _RespConn:
    def __init__(self, host, port):
        self.sock = _connect_tcp(host, port)
        self._buf = b""

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise DriverError("redis: connection closed")
        self._buf += chunk

    def _line(self):
        while b"\r\n" not in self._buf:
            self._fill()
        line, self._buf = self._buf.split(b"\r\n", 1)
        return line

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
            while len(self._buf) < n + 2:
                self._fill()
            out, self._buf = self._buf[:n], self._buf[n + 2:]
            return out
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
        threading.Thread(target=reader, daemon=True).start()
        self._subs.append(sub)
        return sub

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
        threading.Thread(target=reader, daemon=True).start()
        self._subs.append(sub)
        return sub

    def close(self):
        for s in self._subs:
            s.close()
        self.cmd.close()


# ---------------------------------------------------------------- MQTT 3.1.1 (QoS 0 and 1)

def _mqtt_len(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _mqtt_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


class _MqttConn:
    def __init__(self, host, port):
        self.sock = _connect_tcp(host, port)
        self._wlock = threading.Lock()
        self._pid = 0
        cid = "conformance-%d-%d" % (os.getpid(), id(self) & 0xffffff)
        var = _mqtt_str("MQTT") + bytes([4, 0x02]) + struct.pack(">H", 60)
        payload = _mqtt_str(cid)
        self._send(0x10, var + payload)
        kind, body, _ = self.read_packet()
        if kind != 0x20 or body[1] != 0:
            raise DriverError(f"mqtt: CONNECT refused ({body!r})")

    def _send(self, first, body):
        with self._wlock:
            self.sock.sendall(bytes([first]) + _mqtt_len(len(body)) + body)

    def read_packet(self):
        first = _recv_exact(self.sock, 1)[0]
        mult, n = 1, 0
        while True:
            b = _recv_exact(self.sock, 1)[0]
            n += (b & 0x7F) * mult
            mult *= 128
            if not b & 0x80:
                break
        return first & 0xF0, _recv_exact(self.sock, n) if n else b"", first

    def next_pid(self):
        self._pid = self._pid % 65535 + 1
        return self._pid

    def close(self):
        try:
            self._send(0xE0, b"")
            self.sock.close()
        except OSError:
            pass


class MqttDriver:
    """MQTT 3.1.1 to any MQTT server: publishes QoS 1, subscribes QoS 1.
    Suite topics map to MQTT topics by '.' -> '/'."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.pub = _MqttConn(host, port)
        self._acks = {}
        self._ack_cv = threading.Condition()
        self._subs = []
        threading.Thread(target=self._pub_reader, daemon=True).start()

    @staticmethod
    def to_mqtt(topic):
        return topic.replace(".", "/")

    def _pub_reader(self):
        try:
            while True:
                kind, body, _ = self.pub.read_packet()
                if kind == 0x40:  # PUBACK
                    (pid,) = struct.unpack(">H", body[:2])
                    with self._ack_cv:
                        self._acks[pid] = True
                        self._ack_cv.notify_all()
        except (OSError, DriverError):
            return

    def publish(self, topic, data):
        pid = self.pub.next_pid()
        self.pub._send(0x32, _mqtt_str(self.to_mqtt(topic)) + struct.pack(">H", pid) + data)
        with self._ack_cv:
            if not self._ack_cv.wait_for(lambda: self._acks.pop(pid, False), timeout=10):
                raise DriverError(f"mqtt: no PUBACK for {topic}")

    def subscribe(self, topic):
        conn = _MqttConn(self.host, self.port)
        pid = conn.next_pid()
        conn._send(0x82, struct.pack(">H", pid) + _mqtt_str(self.to_mqtt(topic)) + bytes([1]))
        kind, body, _ = conn.read_packet()
        if kind != 0x90 or body[2] == 0x80:
            raise DriverError(f"mqtt: SUBSCRIBE {topic} refused")
        sub = Subscription(conn.close)

        def reader():
            try:
                while True:
                    kind, body, first = conn.read_packet()
                    if kind != 0x30:
                        continue
                    qos = (first >> 1) & 3
                    (n,) = struct.unpack(">H", body[:2])
                    t = body[2:2 + n].decode()
                    pos = 2 + n
                    if qos:
                        pid = body[pos:pos + 2]
                        pos += 2
                        conn._send(0x40, pid)
                    sub.put(t.replace("/", "."), body[pos:])
            except (OSError, DriverError, IndexError, struct.error):
                return
        threading.Thread(target=reader, daemon=True).start()
        self._subs.append(sub)
        return sub

    def close(self):
        for s in self._subs:
            s.close()
        self.pub.close()


# ---------------------------------------------------------------- AMQP 0-9-1 (RabbitMQ)

def _amqp_short(s):
    b = s.encode() if isinstance(s, str) else s
    return bytes([len(b)]) + b


class _AmqpConn:
    """One AMQP 0-9-1 connection with channel 1 open (guest/guest, vhost /)."""

    def __init__(self, host, port):
        self.sock = _connect_tcp(host, port)
        self._wlock = threading.Lock()
        self.sock.sendall(b"AMQP\x00\x00\x09\x01")
        self.expect_method(0, 10, 10)  # Connection.Start
        self.method(0, 10, 11, struct.pack(">I", 0) + _amqp_short("PLAIN") +
                    struct.pack(">I", 12) + b"\x00guest\x00guest" + _amqp_short("en_US"))
        args = self.expect_method(0, 10, 30)  # Tune
        channel_max, frame_max, _ = struct.unpack(">HIH", args[:8])
        self.frame_max = min(frame_max or 131072, 131072)
        self.method(0, 10, 31, struct.pack(">HIH", channel_max, self.frame_max, 0))
        self.method(0, 10, 40, _amqp_short("/") + _amqp_short("") + b"\x00")
        self.expect_method(0, 10, 41)
        self.method(1, 20, 10, _amqp_short(""))
        self.expect_method(1, 20, 11)

    def frame(self, kind, channel, payload):
        with self._wlock:
            self.sock.sendall(struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce")

    def method(self, channel, cls, meth, args):
        self.frame(1, channel, struct.pack(">HH", cls, meth) + args)

    def read_frame(self):
        kind, channel, size = struct.unpack(">BHI", _recv_exact(self.sock, 7))
        payload = _recv_exact(self.sock, size)
        if _recv_exact(self.sock, 1) != b"\xce":
            raise DriverError("amqp: bad frame end")
        return kind, channel, payload

    def expect_method(self, channel, cls, meth):
        while True:
            kind, ch, payload = self.read_frame()
            if kind != 1:
                continue
            c, m = struct.unpack(">HH", payload[:4])
            if (c, m) in ((10, 50), (20, 40)):  # Connection.Close / Channel.Close
                (code,) = struct.unpack(">H", payload[4:6])
                text = payload[7:7 + payload[6]].decode(errors="replace")
                raise DriverError(f"amqp: server closed: {code} {text}")
            if (c, m) == (cls, meth):
                return payload[4:]

    def publish(self, exchange, routing_key, body):
        self.method(1, 60, 40, struct.pack(">H", 0) + _amqp_short(exchange) + _amqp_short(routing_key) + b"\x00")
        self.frame(2, 1, struct.pack(">HHQH", 60, 0, len(body), 0))
        step = self.frame_max - 8
        for i in range(0, len(body), step):
            self.frame(3, 1, body[i:i + step])

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class AmqpDriver:
    """RabbitMQ over AMQP 0-9-1: publishes to the topic exchange with the
    topic as routing key; a subscription is an exclusive, auto-delete queue
    bound with the topic."""

    EXCHANGE = "amq.topic"

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.pub = _AmqpConn(host, port)
        self._lock = threading.Lock()
        self._subs = []

    def publish(self, topic, data):
        with self._lock:
            self.pub.publish(self.EXCHANGE, topic, data)

    def subscribe(self, topic):
        conn = _AmqpConn(self.host, self.port)
        conn.method(1, 50, 10, struct.pack(">H", 0) + _amqp_short("") + bytes([0x0C]) + struct.pack(">I", 0))
        args = conn.expect_method(1, 50, 11)
        queue = args[1:1 + args[0]]
        conn.method(1, 50, 20, struct.pack(">H", 0) + _amqp_short(queue) + _amqp_short(self.EXCHANGE)
                    + _amqp_short(topic) + b"\x00" + struct.pack(">I", 0))
        conn.expect_method(1, 50, 21)
        conn.method(1, 60, 20, struct.pack(">H", 0) + _amqp_short(queue) + _amqp_short("") + bytes([0x02])
                    + struct.pack(">I", 0))
        conn.expect_method(1, 60, 21)
        sub = Subscription(conn.close)

        def reader():
            try:
                while True:
                    args = conn.expect_method(1, 60, 60)  # Basic.Deliver
                    pos = 1 + args[0] + 8 + 1
                    pos += 1 + args[pos]  # exchange
                    key = args[pos + 1:pos + 1 + args[pos]].decode()
                    kind, _, header = conn.read_frame()
                    (size,) = struct.unpack(">Q", header[4:12])
                    body = b""
                    while len(body) < size:
                        kind, _, chunk = conn.read_frame()
                        if kind == 3:
                            body += chunk
                    sub.put(key, body)
            except (OSError, DriverError, struct.error, IndexError):
                return
        threading.Thread(target=reader, daemon=True).start()
        self._subs.append(sub)
        return sub

    def close(self):
        for s in self._subs:
            s.close()
        self.pub.close()


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
