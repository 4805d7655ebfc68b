"""Broker servers the harness starts on free loopback ports, and stops.

Each broker kind names the server it needs, how to start it in a scratch
directory, and the driver the harness talks to it with. `mem` needs no
server: the host embeds it, and the profile says how to reach it.
"""

import base64
import os
import shutil
import socket
import subprocess
import time

from drivers import (FerryControlDriver, NatsDriver, RedisPubSubDriver,
                     RedisStreamsDriver, wait_port)
from drivers_mq import AmqpDriver, KafkaDriver, MqttDriver

HOST = "127.0.0.1"
# Every broker kind the harness knows, in the order the matrix lists them.
KINDS = ["mem", "nats", "jetstream", "mqtt", "redis", "redis-streams", "rabbitmq", "kafka"]
# Kafka's jars, as scripts/setup.sh fetches them (tests/support/kafka/pom.xml).
KAFKA_JARS = os.environ.get("CONFORMANCE_KAFKA_JARS",
                            os.path.join(os.path.expanduser("~"), ".cache", "ferry", "kafka-jars"))
KAFKA_JVM = ["-Xms32m", "-Xmx160m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]


class ServerError(Exception):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _which(program, kind):
    path = shutil.which(program)
    if not path:
        raise ServerError(f"broker {kind}: '{program}' is not on PATH (docs/CONFORMANCE.md lists what to install)")
    return path


class Server:
    """One broker server process (None for mem)."""

    def __init__(self, kind, workdir):
        self.kind = kind
        self.workdir = workdir
        self.proc = None
        self.port = None
        self.log = None
        self.env = None
        self.epmd = None

    def start(self):
        if self.kind == "mem":
            return
        for attempt in range(1 if self.kind in ("rabbitmq", "kafka") else 3):
            self.port = free_port()
            self.env = None
            argv = self._argv()
            self.log = open(os.path.join(self.workdir, f"{self.kind}-server.log"), "wb")
            self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.workdir, env=self.env)
            # An Erlang node takes seconds to boot.
            slow = self.kind in ("rabbitmq", "kafka")  # an Erlang node, a JVM
            if wait_port(HOST, self.port, 120 if slow else 20) and self.proc.poll() is None:
                if self.kind != "kafka" or self._kafka_ready():
                    return
            self.stop()
        raise ServerError(f"broker {self.kind}: the server did not start "
                          f"(see {os.path.join(self.workdir, self.kind + '-server.log')})")

    def _argv(self):
        k, port, d = self.kind, str(self.port), self.workdir
        if k in ("nats", "jetstream"):
            conf = os.path.join(d, "nats.conf")
            with open(conf, "w") as f:
                # 1 MiB payloads plus headers need more than the 1 MiB default.
                f.write(f"listen: {HOST}:{port}\nmax_payload: 8MB\n")
                if k == "jetstream":
                    store = os.path.join(d, "js").replace("\\", "/")
                    f.write(f'jetstream {{ store_dir: "{store}" }}\n')
            return [_which("nats-server", k), "-c", conf]
        if k == "mqtt":
            conf = os.path.join(d, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write(f"listener {port} {HOST}\nallow_anonymous true\npersistence false\n"
                        "message_size_limit 0\n")
                # As root, mosquitto drops to the user 'mosquitto' unless told to stay.
                if hasattr(os, "geteuid") and os.geteuid() == 0:
                    f.write("user root\n")
            return [_which("mosquitto", k), "-c", conf]
        if k in ("redis", "redis-streams"):
            return [_which("redis-server", k), "--port", port, "--bind", HOST, "--save", "",
                    "--appendonly", "no", "--dir", d]
        if k == "rabbitmq":
            return self._rabbitmq_argv()
        if k == "kafka":
            return self._kafka_argv()
        raise ServerError(f"unknown broker kind '{k}' (known: {', '.join(KINDS)})")

    def _rabbitmq_argv(self):
        """rabbitmq-server with its own epmd, node name, ports and folders
        in the scratch directory (the node's VM is the process we stop)."""
        d = self.workdir
        # Debian's /usr/sbin/rabbitmq-server switches to the rabbitmq user,
        # which cannot write the scratch directory: use the script behind it.
        server = "/usr/lib/rabbitmq/bin/rabbitmq-server"
        if not os.path.exists(server):
            server = shutil.which("rabbitmq-server") or server
        if not os.path.exists(server):
            raise ServerError("broker rabbitmq: 'rabbitmq-server' is not installed")
        epmd_port = free_port()
        self.epmd = subprocess.Popen([_which("epmd", "rabbitmq"), "-port", str(epmd_port), "-address", HOST],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        open(os.path.join(d, "empty.conf"), "w").close()
        self.env = dict(os.environ, HOME=d, ERL_EPMD_PORT=str(epmd_port),
                        RABBITMQ_NODENAME=f"conf{self.port}@localhost", RABBITMQ_NODE_IP_ADDRESS=HOST,
                        RABBITMQ_NODE_PORT=str(self.port), RABBITMQ_DIST_PORT=str(free_port()),
                        RABBITMQ_MNESIA_BASE=os.path.join(d, "mnesia"), RABBITMQ_LOG_BASE=os.path.join(d, "log"),
                        RABBITMQ_PID_FILE=os.path.join(d, "rabbit.pid"),
                        RABBITMQ_CONF_ENV_FILE=os.path.join(d, "empty.conf"), RABBITMQ_ALLOW_INPUT="1",
                        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} -noinput")
        return [server]

    def _kafka_argv(self):
        """A one-node KRaft Kafka (broker and controller) from the jars."""
        d = self.workdir.replace("\\", "/")
        java = _which("java", "kafka")
        if not os.path.isdir(KAFKA_JARS):
            raise ServerError(f"broker kafka: the Kafka jars are missing in {KAFKA_JARS} (scripts/setup.sh fetches them)")
        controller = free_port()
        with open(os.path.join(self.workdir, "server.properties"), "w") as f:
            f.write(f"process.roles=broker,controller\nnode.id=1\n"
                    f"controller.quorum.voters=1@{HOST}:{controller}\n"
                    f"listeners=PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{controller}\n"
                    f"advertised.listeners=PLAINTEXT://{HOST}:{self.port}\n"
                    "controller.listener.names=CONTROLLER\ninter.broker.listener.name=PLAINTEXT\n"
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
                    f"log.dirs={d}/data\nnum.partitions=1\nauto.create.topics.enable=true\n"
                    "default.replication.factor=1\nmin.insync.replicas=1\n"
                    "offsets.topic.replication.factor=1\noffsets.topic.num.partitions=1\n"
                    "transaction.state.log.replication.factor=1\ntransaction.state.log.min.isr=1\n"
                    "share.coordinator.state.topic.replication.factor=1\nshare.coordinator.state.topic.min.isr=1\n"
                    "group.initial.rebalance.delay.ms=0\ngroup.min.session.timeout.ms=1000\n"
                    "log.cleaner.dedupe.buffer.size=4194304\ndelete.topic.enable=true\n"
                    "message.max.bytes=8388608\nreplica.fetch.max.bytes=8388608\n")
        with open(os.path.join(self.workdir, "log4j2.properties"), "w") as f:
            f.write("status = warn\nappender.out.type = Console\nappender.out.name = OUT\n"
                    "appender.out.layout.type = PatternLayout\nappender.out.layout.pattern = [%d] %p %m (%c)%n\n"
                    "rootLogger.level = warn\nrootLogger.appenderRef.out.ref = OUT\n")
        cp = os.path.join(KAFKA_JARS, "*")
        base = [java] + KAFKA_JVM + [f"-Dlog4j2.configurationFile={d}/log4j2.properties", "-cp", cp]
        cluster = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=").replace("-", "A", 1)
        fmt = subprocess.run(base + ["kafka.tools.StorageTool", "format", "-t", cluster, "-c",
                                     f"{d}/server.properties"], capture_output=True, timeout=120)
        if fmt.returncode != 0:
            raise ServerError(f"broker kafka: formatting the storage failed: {fmt.stdout.decode()[-300:]}")
        return base + ["kafka.Kafka", f"{d}/server.properties"]

    def _kafka_ready(self):
        """An open port is not readiness: a metadata request must succeed."""
        kcat = shutil.which("kcat") or shutil.which("kafkacat")
        if not kcat:
            raise ServerError("broker kafka: 'kcat' is not on PATH")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            r = subprocess.run([kcat, "-b", f"{HOST}:{self.port}", "-L", "-m", "5"], capture_output=True, timeout=30)
            if r.returncode == 0 and b"1 brokers" in r.stdout:
                return True
            time.sleep(0.5)
        return False

    def url_values(self):
        return {"host": HOST, "port": str(self.port or "")}

    def driver(self, access):
        """The harness's client for this broker; `access` is the profile's
        broker entry (for mem: how to reach the embedded broker)."""
        k = self.kind
        if k == "mem":
            how = access.get("access")
            if how != "ferry-control":
                raise ServerError(f"broker mem: the profile's access '{how}' is not one the harness "
                                  "speaks (known: ferry-control)")
            return FerryControlDriver(access["socket"], access.get("broker_name", "default"))
        if k in ("nats", "jetstream"):
            return NatsDriver(HOST, self.port)
        if k == "mqtt":
            return MqttDriver(HOST, self.port)
        if k == "redis":
            return RedisPubSubDriver(HOST, self.port)
        if k == "redis-streams":
            return RedisStreamsDriver(HOST, self.port)
        if k == "rabbitmq":
            return AmqpDriver(HOST, self.port)
        if k == "kafka":
            return KafkaDriver(HOST, self.port, self.workdir)
        raise ServerError(f"unknown broker kind '{k}'")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        epmd = getattr(self, "epmd", None)
        if epmd and epmd.poll() is None:
            epmd.terminate()
            epmd.wait()
        if self.log:
            self.log.close()
            self.log = None


__all__ = ["Server", "ServerError", "KINDS", "free_port"]
