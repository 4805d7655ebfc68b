"""Broker clients for MQTT 3.1.1 and AMQP 0-9-1 (RabbitMQ), on the standard
library only; the interface is drivers.py's."""

import os
import struct
import threading

from drivers import DriverError, Subscription, _connect_tcp, _recv_exact, _start_reading


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
        return _start_reading(self._subs, sub, reader)

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
        return _start_reading(self._subs, sub, reader)

    def close(self):
        for s in self._subs:
            s.close()
        self.pub.close()


# ---------------------------------------------------------------- Kafka (through kcat)

class KafkaDriver:
    """Apache Kafka through the `kcat` tool: a publish runs `kcat -P` with
    the data in a file (one record, byte-exact); a subscription runs
    `kcat -C` from the time it was made (`-o s@<ms>`), printing each record
    as `<size>:<bytes>`. Topics are Kafka topics of the same name."""

    def __init__(self, host, port, workdir):
        import shutil
        self.kcat = shutil.which("kcat") or shutil.which("kafkacat")
        if not self.kcat:
            raise DriverError("broker kafka: 'kcat' is not on PATH")
        self.bootstrap = f"{host}:{port}"
        self.workdir = workdir
        self._n = 0
        self._lock = threading.Lock()
        self._subs = []

    def _base(self):
        return [self.kcat, "-b", self.bootstrap, "-q", "-X", "allow.auto.create.topics=true"]

    def publish(self, topic, data):
        import subprocess
        if not data:
            # kcat skips an empty file; a record with a key and an empty
            # value is a 0-byte message.
            r = subprocess.run(self._base() + ["-P", "-t", topic, "-K", "\x02", "-D", "\x01"],
                               input=b"conformance\x02\x01", capture_output=True, timeout=30)
            if r.returncode != 0:
                raise DriverError(f"kafka: kcat -P {topic} failed: {r.stderr.decode(errors='replace').strip()}")
            return
        with self._lock:
            self._n += 1
            path = os.path.join(self.workdir, f"kcat-{self._n}.bin")
        with open(path, "wb") as f:
            f.write(data)
        try:
            r = subprocess.run(self._base() + ["-P", "-t", topic, "-X", "message.max.bytes=8388608", path],
                               capture_output=True, timeout=30)
        finally:
            os.unlink(path)
        if r.returncode != 0:
            raise DriverError(f"kafka: kcat -P {topic} failed: {r.stderr.decode(errors='replace').strip()}")

    def subscribe(self, topic):
        import subprocess
        import time
        since = int(time.time() * 1000) - 1000
        argv = self._base() + ["-C", "-t", topic, "-o", f"s@{since}", "-u", "-f", "%S:%s",
                               "-X", "fetch.message.max.bytes=8388608"]
        state = {"proc": None, "closed": False}

        def close():
            state["closed"] = True
            if state["proc"]:
                state["proc"].terminate()
                try:
                    state["proc"].wait(5)
                except subprocess.TimeoutExpired:
                    state["proc"].kill()
        sub = Subscription(close)

        def reader():
            # kcat stops when the topic does not exist yet (nothing was sent
            # to it); it starts again from the same time, skipping what it
            # already read (one partition: the same records in the same order).
            seen = 0
            while not state["closed"]:
                proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        stdin=subprocess.DEVNULL)
                state["proc"] = proc
                if state["closed"]:
                    proc.terminate()
                read = 0
                out = proc.stdout
                while True:
                    digits = b""
                    c = out.read(1)
                    while c and c != b":":
                        digits += c
                        c = out.read(1)
                    if not c:
                        break
                    size = int(digits) if digits.strip().lstrip(b"-").isdigit() else 0
                    data = out.read(size) if size > 0 else b""
                    read += 1
                    if read > seen:
                        seen = read
                        sub.put(topic, data)
                proc.wait()
                time.sleep(0.3)
        return _start_reading(self._subs, sub, reader)

    def close(self):
        for s in self._subs:
            s.close()
