"""The cases. Each cites the WIT sentence it checks; `required` cases pass
or fail, `implementation-defined` ones record what the host does.

Shapes: "0.2.0-draft" (the current draft, guests conf_d25_*), its async
variant "0.2.0-draft-async" (WASI 0.3: the same guests built against
wit/messaging-0.2.0-draft-async, conf_d25a_*, the same topics, run by a host
session of their own), "0.1.0" and "0.2.0-draft-2024" (the same interfaces,
guests conf_v010* / conf_v2024*).
"""

import os
import time

from context import CaseFailed, Passed, Recorded, expect, pairs

REQUIRED, IMPL = "required", "implementation-defined"
CASES = []


class Case:
    def __init__(self, cid, shape, title, wit, kind, fn):
        self.id, self.shape, self.title, self.wit, self.kind, self.fn = cid, shape, title, wit, kind, fn


def case(cid, shapes, title, wit, kind=REQUIRED):
    def register(fn):
        for shape in shapes:
            CASES.append(Case(cid, shape, title, wit, kind, fn))
        return fn
    return register


D25 = ["0.2.0-draft", "0.2.0-draft-async"]
V01 = ["0.1.0", "0.2.0-draft-2024"]
ALL = D25 + V01


def is_d25(shape):
    """The 2025 draft's interfaces, synchronous or async."""
    return shape in D25


def prefix(shape):
    return "conf.v010" if shape == "0.1.0" else "conf.v2024"


# The components each shape needs: name, subscriptions (none for 0.1.0
# shapes: configure() names them).
def components(shape):
    if is_d25(shape):
        p = "conf_d25a_" if shape == "0.2.0-draft-async" else "conf_d25_"
        return [(p + "message", ["conf.d25.msg"]),
                (p + "client", ["conf.d25.client"]),
                (p + "responder", ["conf.d25.svc"]),
                (p + "handler", ["conf.d25.handler"]),
                (p + "echo", ["conf.d25.echo"])]
    base = "conf_v010" if shape == "0.1.0" else "conf_v2024"
    return [(base, []), (base + "_echo", [])]


def _echo_probe(ctx, topic, timeout):
    sub = ctx.driver.subscribe(topic + ".out")
    try:
        probe = f"probe-{ctx.tag()}".encode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ctx.check_host()
            ctx.driver.publish(topic, probe)
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                m = sub.get(0.1)
                if m and m[1] == probe:
                    return
        raise CaseFailed(f"the echo on {topic} did not answer within {timeout:g} s")
    finally:
        sub.close()


def wait_ready(ctx, shape, timeout):
    """Probes every component of a shape until each answers."""
    if is_d25(shape):
        ctx.command_until("conf.d25.msg", "fresh", timeout)
        ctx.command_until("conf.d25.client", "connect-unknown", timeout)
        ctx.command_until("conf.d25.handler", "ok", timeout)
        deadline = time.monotonic() + timeout
        while True:
            r = ctx.command("conf.d25.client", "request 1 1000 1", timeout)
            if r.get("ok") and r.get("replies") == 1:
                break
            if time.monotonic() > deadline:
                raise CaseFailed(f"the responder did not answer within {timeout:g} s: {r}")
        _echo_probe(ctx, "conf.d25.echo", timeout)
    else:
        ctx.command_until(prefix(shape) + ".in", "batch", timeout)
        _echo_probe(ctx, prefix(shape) + ".echo", timeout)


def cmd_topic(shape, d25_topic="conf.d25.msg"):
    return d25_topic if is_d25(shape) else prefix(shape) + ".in"


# ------------------------------------------------------------------ the message resource (2025)

@case("message.fresh-has-no-topic", D25, "a message the guest made has no topic",
      'types.message.topic: "The topic/subject/channel this message was received on, if any"')
def _(ctx, shape):
    r = ctx.command("conf.d25.msg", "fresh")
    expect(r.get("topic") is None, f"topic() of a new message returned {r.get('topic')!r}")
    expect(r.get("data") == "abc", f"data() returned {r.get('data')!r}, not the constructor's 'abc'")
    return Passed(f"content-type={r.get('content_type')!r} metadata={r.get('metadata')!r}")


@case("message.delivered-has-topic", D25, "a delivered message has the topic it arrived on",
      'types.message.topic: "The topic/subject/channel this message was received on"')
def _(ctx, shape):
    tag = ctx.tag()
    r = ctx.command("conf.d25.msg", "delivered", tag=tag)
    expect(r.get("topic") == "conf.d25.msg", f"topic() returned {r.get('topic')!r}")
    expect(r.get("data") == f"{tag} delivered", f"data() returned {r.get('data')!r}")
    return Passed(f"content-type={r.get('content_type')!r} metadata={r.get('metadata')!r}")


@case("message.set-data-discards", D25, "set-data replaces the data",
      'types.message.set-data: "Set the opaque blob of data for this message, discarding the old value"')
def _(ctx, shape):
    r = ctx.command("conf.d25.msg", "set-data")
    expect(r.get("data") == "new", f"data() after set-data('new') returned {r.get('data')!r}")
    return Passed()


@case("message.add-metadata-overwrites", D25, "add-metadata overwrites an existing key",
      'types.message.add-metadata: "Add a new key-value pair to the metadata, overwriting any existing '
      'value for the same key"')
def _(ctx, shape):
    md = pairs(ctx.command("conf.d25.msg", "add-metadata"))
    expect([v for k, v in md if k == "k"] == ["2"], f"after add (k,1), (k,2): metadata {md}")
    expect(("j", "3") in md, f"(j,3) missing: {md}")
    return Passed(f"metadata {md}")


@case("message.set-metadata-replaces", D25, "set-metadata replaces the metadata",
      'types.message.set-metadata: "Set the metadata"')
def _(ctx, shape):
    md = pairs(ctx.command("conf.d25.msg", "set-metadata"))
    expect(sorted(md) == [("a", "1"), ("b", "2")], f"after add (x,1), set [(a,1),(b,2)]: metadata {md}")
    return Passed()


@case("message.remove-metadata", D25, "remove-metadata removes the key",
      'types.message.remove-metadata: "Remove a key-value pair from the metadata"')
def _(ctx, shape):
    md = pairs(ctx.command("conf.d25.msg", "remove-metadata"))
    expect(sorted(md) == [("a", "1"), ("c", "3")], f"after removing b from a,b,c: metadata {md}")
    return Passed()


@case("message.content-type", D25, "set-content-type sets what content-type returns",
      'types.message.set-content-type: "Set the content-type describing the format of the data"')
def _(ctx, shape):
    r = ctx.command("conf.d25.msg", "content-type")
    expect(r.get("first_content_type") == "text/plain", f"first: {r.get('first_content_type')!r}")
    expect(r.get("second_content_type") == "application/json", f"second: {r.get('second_content_type')!r}")
    return Passed()


@case("message.duplicate-keys-local", D25, "set-metadata with a key twice, read back",
      'types.metadata: "list<tuple<string, string>>" (says nothing about repeated keys)', IMPL)
def _(ctx, shape):
    return Recorded(f"metadata() returns {pairs(ctx.command('conf.d25.msg', 'dup-local'))}")


# ------------------------------------------------------------------ metadata through the broker

UNICODE = [("cl\u00e9-\u00fc", "v\u00e4lue \u2713 \u65e5\u672c"), ("emoji-\U0001F680", "\U0001F680")]
VARIANTS = {
    "unicode": UNICODE,
    "empty": [("empty", ""), ("full", "x")],
    "hundred": [(f"key-{i:03d}", f"value-{i:03d}") for i in range(100)],
}


def hop(ctx, shape, variant):
    """Has the guest send a message with the variant's metadata, and returns
    the report of the guest that received it."""
    tag = ctx.tag()
    sent = ctx.command(cmd_topic(shape), f"hop {variant}", tag=tag, verb="hop")
    if not sent.get("sent"):
        raise CaseFailed(f"the guest's send failed: {sent.get('send_error', '')} "
                         f"{sent.get('send_text', sent.get('send_trace', ''))}".strip())
    return ctx.wait_reports(tag, 1, 20, verb="hop-seen")[0]


def metadata_case(variant):
    def run(ctx, shape):
        seen = pairs(hop(ctx, shape, variant))
        missing = [p for p in VARIANTS[variant] if p not in seen]
        expect(not missing, f"{len(missing)} of {len(VARIANTS[variant])} entries did not arrive as sent, "
               f"e.g. {missing[:2]}; received {seen[:4]}{'...' if len(seen) > 4 else ''}")
        extra = [p for p in seen if p not in VARIANTS[variant]]
        return Passed(f"host-added entries: {[k for k, _ in extra]}" if extra else "")
    return run


for _variant, _title in [("unicode", "unicode keys and values"), ("empty", "empty values"),
                         ("hundred", "100 entries")]:
    case(f"metadata.{_variant}", ALL, f"metadata with {_title} arrives as sent",
         'types.message.metadata: "Optional metadata (also called headers or attributes in some systems) '
         'attached to the message"; 0.1.0 message.metadata')(metadata_case(_variant))


@case("metadata.duplicate-keys", ALL, "a key sent twice, as received",
      "metadata is a list<tuple<string, string>>; the WIT does not say whether keys repeat", IMPL)
def _(ctx, shape):
    return Recorded(f"received {[p for p in pairs(hop(ctx, shape, 'dup')) if p[0] == 'k']}")


@case("message.content-type-travels", D25, "the content type arrives with the message",
      'types.message.content-type: "An optional content-type describing the format of the data"')
def _(ctx, shape):
    r = hop(ctx, shape, "content-type")
    expect(r.get("content_type") == "application/json", f"received content-type {r.get('content_type')!r}")
    return Passed()


@case("message.format-travels", V01, "a record's format as received",
      'messaging-types.format-spec: "Format specification for messages"', IMPL)
def _(ctx, shape):
    return Recorded(f"sent cloudevents, received {hop(ctx, shape, 'format').get('format')}")


# ------------------------------------------------------------------ payloads

PAYLOADS = [("0B", 0), ("1B", 1), ("64KiB", 64 << 10), ("1MiB", 1 << 20)]


def payload_case(size):
    def run(ctx, shape):
        topic = "conf.d25.echo" if is_d25(shape) else prefix(shape) + ".echo"
        data = os.urandom(size)
        sub = ctx.driver.subscribe(topic + ".out")
        try:
            ctx.driver.publish(topic, data)
            (got,) = ctx.collect(sub, lambda ms: next(((d,) for _, d in ms if len(d) == size and
                                                       not d.startswith(b"probe-")), None),
                                 30, f"no {size}-byte message came back")
        finally:
            sub.close()
        if got != data:
            first = next(i for i in range(size) if got[i] != data[i])
            raise CaseFailed(f"{size} bytes came back different (first difference at byte {first})")
        return Passed()
    return run


for _name, _size in PAYLOADS:
    case(f"payload.{_name}", ALL, f"{_name} of random bytes round-trip byte-exact",
         'types.message.data: "An opaque blob of data"; 0.1.0 message.data: list<u8>')(payload_case(_size))


@case("delivery.order", ALL, "20 messages sent one after another, in the order they came out",
      "the WIT says nothing about ordering", IMPL)
def _(ctx, shape):
    topic = "conf.d25.echo" if is_d25(shape) else prefix(shape) + ".echo"
    mark = f"seq-{ctx.tag()}-".encode()
    sub = ctx.driver.subscribe(topic + ".out")
    try:
        for i in range(20):
            ctx.driver.publish(topic, mark + b"%02d" % i)
        got = ctx.collect(sub, lambda ms: (lambda s: s if len(s) == 20 else None)(
            [d for _, d in ms if d.startswith(mark)]), 30, "not all 20 came out")
    finally:
        sub.close()
    order = [int(d[len(mark):]) for d in got]
    return Recorded("in order" if order == sorted(order) else f"out of order: {order}")


# ------------------------------------------------------------------ client and producer (2025)

@case("client.connect-unknown", D25, "connect to a name the host does not know",
      'types.client.connect: "result<client, error>" (which names exist is the host\'s)', IMPL)
def _(ctx, shape):
    r = ctx.command("conf.d25.client", "connect-unknown")
    if r.get("ok"):
        return Recorded("connected")
    return Recorded(f"error {r.get('connect_error')}: {r.get('connect_text', '')}")


@case("client.disconnect-then-send", D25, "send on a disconnected client fails",
      'types.client.disconnect: "disconnect: func() -> result<_, error>"; producer.send returns an error')
def _(ctx, shape):
    r = ctx.command("conf.d25.client", "disconnect-send")
    expect(r.get("disconnect_ok"), f"disconnect failed: {r.get('disconnect_error')} {r.get('disconnect_text', '')}")
    expect(r.get("send_ok") is False, "send on a disconnected client succeeded")
    return Passed(f"error {r.get('send_error')}: {r.get('send_text', '')}")


@case("producer.send", D25, "send delivers the message to the topic",
      'producer.send: "Sends the message using the given client."')
def _(ctx, shape):
    tag = ctx.tag()
    sub = ctx.driver.subscribe("conf.d25.sent")
    try:
        r = ctx.command("conf.d25.client", "send", tag=tag)
        expect(r.get("ok"), f"send failed: {r.get('send_error')} {r.get('send_text', '')}")
        ctx.collect(sub, lambda ms: any(d == tag.encode() for _, d in ms), 20, "the message did not arrive")
    finally:
        sub.close()
    return Passed()


@case("error.permission-denied", D25, "send to a topic the host did not grant",
      'types.error: "permission-denied(string): A permission error occurred" (what a guest may use is the '
      'host\'s; the profile grants everything under conf. but conf.denied)', IMPL)
def _(ctx, shape):
    r = ctx.command("conf.d25.client", "send-to conf.denied.topic")
    if r.get("ok"):
        return Recorded("sent (the host grants it)")
    return Recorded(f"error {r.get('send_error')}: {r.get('send_text', '')}")


# ------------------------------------------------------------------ request-reply (2025)

def request(ctx, replies, timeout="-", expected="-"):
    """The client guest requests on conf.d25.svc; the responder replies `replies` times."""
    r = ctx.command("conf.d25.client", f"request {replies} {timeout} {expected}", timeout=60)
    if "connect_error" in r:
        raise CaseFailed(f"connect failed: {r['connect_error']}")
    return r


@case("request.no-options-one-reply", D25, "no options: waits for one reply",
      'request-reply.request: "If no options are provided, then the request/reply operation will block '
      'until a single message is received in response."')
def _(ctx, shape):
    r = request(ctx, 2)
    expect(r.get("ok"), f"request failed: {r.get('request_error')} {r.get('request_text', '')}")
    expect(r.get("replies") == 1, f"returned {r.get('replies')} replies (the responder sends 2)")
    return Passed(f"{r.get('elapsed_ms')} ms")


@case("request.timeout-no-replies", D25, "a timeout with no replies is an error",
      'request-reply.request: "If a timeout is provided, then the request/reply operation will block for '
      'the specified amount of time before returning an error if no messages were received"')
def _(ctx, shape):
    r = request(ctx, 0, 500)
    expect(r.get("ok") is False, f"returned ok with {r.get('replies')} replies")
    expect(r.get("elapsed_ms", 0) >= 250, f"returned after {r.get('elapsed_ms')} ms, not about 500")
    return Passed(f"error {r.get('request_error')} after {r.get('elapsed_ms')} ms")


@case("request.timeout-fewer-replies", D25, "timeout before the expected replies returns those received",
      'request-reply.request: "(3) if the timeout is reached before the expected number of replies, return '
      'the list of messages received up to that point."')
def _(ctx, shape):
    r = request(ctx, 2, 1500, 5)
    expect(r.get("ok"), f"request failed: {r.get('request_error')} {r.get('request_text', '')}")
    expect(r.get("replies") == 2, f"returned {r.get('replies')} replies, not the 2 sent")
    expect(r.get("elapsed_ms", 0) >= 750, f"returned after {r.get('elapsed_ms')} ms, before the timeout")
    return Passed(f"{r.get('elapsed_ms')} ms")


@case("request.expected-replies-first", D25, "expected replies before the timeout return at once",
      'request-reply.request: "(2) if the maximum expected number of replies were received before timeout, '
      'return the list of messages"')
def _(ctx, shape):
    r = request(ctx, 3, 20000, 3)
    expect(r.get("ok"), f"request failed: {r.get('request_error')} {r.get('request_text', '')}")
    expect(r.get("replies") == 3, f"returned {r.get('replies')} replies")
    expect(r.get("elapsed_ms", 99999) < 10000, f"took {r.get('elapsed_ms')} ms of a 20000 ms timeout")
    return Passed(f"{r.get('elapsed_ms')} ms")


@case("reply.several-times", D25, "reply may be called several times",
      'request-reply.reply: "you might want to reply to a message several times ... So this function is '
      'allowed to be called multiple times"')
def _(ctx, shape):
    tag = ctx.tag()
    r = ctx.command("conf.d25.client", "request 3 20000 3", tag=tag, timeout=60)
    expect(not ctx.reports(tag, "responder-failed"), f"reply failed: {ctx.reports(tag, 'responder-failed')}")
    expect(r.get("ok"), f"request failed: {r.get('request_error')} {r.get('request_text', '')}")
    got = sorted(r.get("reply_data", []))
    expect(got == [f"{tag}#{i}" for i in range(3)], f"replies {got}")
    return Passed()


@case("request.timeout-only", D25, "a timeout and no expected count: what comes back",
      'request-reply.request: "If a timeout is provided ... (or the list of messages that were received)"',
      IMPL)
def _(ctx, shape):
    r = request(ctx, 2, 1000)
    if not r.get("ok"):
        return Recorded(f"error {r.get('request_error')} after {r.get('elapsed_ms')} ms")
    return Recorded(f"{r.get('replies')} of 2 replies after {r.get('elapsed_ms')} ms")


@case("request.reply-topic", D25, "the topic a reply arrives with",
      'request-reply.reply: "The details of which topic the message is sent to is up to the '
      'implementation."', IMPL)
def _(ctx, shape):
    r = request(ctx, 1, 5000, 1)
    if not r.get("ok"):
        return Recorded(f"error {r.get('request_error')}")
    return Recorded(f"topic {r.get('first_reply_topic')!r}")


@case("reply.without-address", D25, "reply to a message that has no reply address",
      'request-reply.reply: "there are several use cases in which a reply might not be required for every '
      'message (so this would be a noop)"', IMPL)
def _(ctx, shape):
    r = ctx.command("conf.d25.msg", "reply-none")
    return Recorded("ok (no-op)" if r.get("ok") else f"error {r.get('reply_error')}: {r.get('reply_text', '')}")
