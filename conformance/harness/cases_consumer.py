"""Cases for handler semantics (every shape) and for the 0.1.0 consumer and
messaging-guest functions (0.1.0 and the 2024 draft)."""

import time

from cases import ALL, IMPL, V01, case, is_d25, prefix
from context import CaseFailed, Passed, Recorded, expect


def handler_topic(shape):
    return "conf.d25.handler" if is_d25(shape) else prefix(shape) + ".in"


def _deliveries(ctx, shape, tag, action):
    verb = "seen" if is_d25(shape) else action
    return ctx.reports(tag, verb)


# ------------------------------------------------------------------ handler semantics

HANDLE_WIT = ('incoming-handler.handle: "Implementors (such as hosts) calling this interface should make '
              'their own decisions on how to handle errors returned from this function."; '
              '0.1.0 messaging-guest.handler')


@case("handler.ok-settles", ALL, "an ok result settles the message (no redelivery)", HANDLE_WIT)
def _(ctx, shape):
    tag = ctx.tag()
    ctx.command(handler_topic(shape), "ok", tag=tag)
    ctx.settle(2.0)
    n = len(_deliveries(ctx, shape, tag, "ok"))
    expect(n == 1, f"delivered {n} times after returning ok")
    return Passed()


@case("handler.error-not-lost", ALL, "an error result does not lose the message", HANDLE_WIT)
def _(ctx, shape):
    tag = ctx.tag()
    ctx.command(handler_topic(shape), "fail", tag=tag)
    mark = f"{tag} ".encode()

    def outcome():
        n = len(_deliveries(ctx, shape, tag, "fail"))
        return (n, bool(ctx.dead_letters(mark))) if n >= 2 or ctx.dead_letters(mark) else None
    try:
        ctx.wait_until(outcome, 20, "not delivered again nor dead-lettered")
    except CaseFailed:
        raise CaseFailed(f"after an error result the message was delivered once, and not dead-lettered"
                         f"{'' if ctx.dead_letter else ' (the profile names no dead-letter topic)'}") from None
    ctx.settle(3.0)  # let the host finish what it does with it
    n = len(_deliveries(ctx, shape, tag, "fail"))
    dead = bool(ctx.dead_letters(mark))
    return Passed(f"delivered {n} times; {'dead-lettered to ' + ctx.dead_letter if dead else 'not dead-lettered'}")


@case("handler.trap-then-next", ALL, "a trap does not stop the host handling the next message", HANDLE_WIT)
def _(ctx, shape):
    tag = ctx.tag()
    ctx.command(handler_topic(shape), "trap", tag=tag)
    ok = ctx.command(handler_topic(shape), "ok", timeout=30)
    expect(ok, "no answer after the trap")
    n = len(_deliveries(ctx, shape, tag, "trap"))
    return Passed(f"the trapping message was delivered {n} time(s)")


# ------------------------------------------------------------------ 0.1.0 messaging-guest and consumer

@case("guest.configure-channels", V01, "messages on the channels configure() returned reach the handler",
      'messaging-guest.configure: "Returns the list of channels ... that this component should subscribe '
      'to and be handled by the subsequent handler"')
def _(ctx, shape):
    tag = ctx.tag()
    r = ctx.command(prefix(shape) + ".in", "inspect", tag=tag)
    expect(r.get("data_len") == len(f"{tag} inspect"), f"data length {r.get('data_len')}")
    return Passed(f"format {r.get('format')}, metadata keys {[k for k, _ in r.get('metadata') or []]}")


@case("guest.handler-batches", V01, "how many messages one handler call gets",
      'messaging-guest.handler: "handler: func(ms: list<message>)"', IMPL)
def _(ctx, shape):
    tags = [ctx.tag() for _ in range(8)]
    for t in tags:
        ctx.driver.publish(prefix(shape) + ".in", f"{t} batch".encode())
    for t in tags:
        ctx.wait_reports(t, 1, 20)
    sizes = [ctx.reports(t)[0].get("batch") for t in tags]
    expect(all(isinstance(s, int) and s >= 1 for s in sizes), f"batch sizes {sizes}")
    return Recorded(f"8 messages published together came in lists of {sizes}")


@case("consumer.complete-message", V01, "complete-message acknowledges: no redelivery",
      'consumer.complete-message: "(3) accepted (result of complete-message): the message has been received '
      'and ACK-ed by a consumer and can be safely removed from the queue"')
def _(ctx, shape):
    tag = ctx.tag()
    r = ctx.command(prefix(shape) + ".in", "complete", tag=tag)
    expect(r.get("ok"), f"complete-message failed: {r.get('trace')}")
    ctx.settle(2.0)
    n = len(ctx.reports(tag, "complete"))
    expect(n == 1, f"delivered {n} times after complete-message")
    return Passed()


@case("consumer.abandon-message", V01, "abandon-message returns ok; what happens to the message",
      'consumer.abandon-message: "(4) rejected (result of abandon-message): ... it can be: deleted, sent to a '
      'dead-letter queue, or kept in the queue for further processing."', IMPL)
def _(ctx, shape):
    tag = ctx.tag()
    r = ctx.command(prefix(shape) + ".in", "abandon", tag=tag)
    if not r.get("ok"):
        return Recorded(f"abandon-message failed: {r.get('trace')}")
    ctx.settle(3.0)
    n = len(ctx.reports(tag, "abandon"))
    dead = bool(ctx.dead_letters(f"{tag} ".encode()))
    return Recorded(f"delivered {n} times; {'dead-lettered' if dead else 'not dead-lettered'}")


@case("consumer.try-receive-nothing", V01, "subscribe-try-receive returns none after about its timeout",
      'consumer.subscribe-try-receive: "Blocking receive for t-milliseconds with ephemeral subscription – if '
      'no message is received, returns None"')
def _(ctx, shape):
    r = ctx.command(prefix(shape) + ".in", "pull-none 700", timeout=30)
    expect(r.get("ok"), f"returned an error: {r.get('trace')}")
    expect(r.get("some") is False, f"returned {r.get('count')} messages from a channel nobody publishes to")
    ms = r.get("elapsed_ms", 0)
    expect(500 <= ms <= 5700, f"returned after {ms} ms for a 700 ms wait")
    return Passed(f"{ms} ms")


def _pull_until(ctx, shape, verb, arg=""):
    tag = ctx.tag()
    channel = f"{prefix(shape)}.pull.{tag}"
    body = f"pulled-{tag}".encode()
    ctx.driver.publish(prefix(shape) + ".in", f"{tag} {verb}{' ' + arg if arg else ''}".encode())
    deadline = time.monotonic() + 25
    while not ctx.reports(tag):
        ctx.check_host()
        if time.monotonic() > deadline:
            raise CaseFailed(f"no report from {verb} within 25 s")
        ctx.driver.publish(channel, body)
        time.sleep(0.2)
    r = ctx.reports(tag)[0]
    expect(r.get("ok"), f"returned an error: {r.get('trace')}")
    return r, body.decode()


@case("consumer.try-receive-message", V01, "subscribe-try-receive returns what arrives in time",
      'consumer.subscribe-try-receive: "Blocking receive for t-milliseconds with ephemeral subscription"')
def _(ctx, shape):
    r, body = _pull_until(ctx, shape, "pull", "15000")
    expect(r.get("some") and r.get("count", 0) >= 1, f"returned none after {r.get('elapsed_ms')} ms")
    expect(r.get("first_data") == body, f"first message {r.get('first_data')!r}")
    return Passed(f"{r.get('count')} message(s)")


@case("consumer.receive-blocks", V01, "subscribe-receive waits for a message",
      'consumer.subscribe-receive: "Blocking receive until message with ephemeral subscription"')
def _(ctx, shape):
    r, body = _pull_until(ctx, shape, "pull-block")
    expect(r.get("count", 0) >= 1 and r.get("first_data") == body,
           f"returned {r.get('count')} message(s), first {r.get('first_data')!r}")
    return Passed(f"{r.get('count')} message(s)")


@case("consumer.update-guest-configuration", V01, "update-guest-configuration subscribes a new channel",
      'consumer.update-guest-configuration: "\'Fit-all\' type function for updating a guest\'s configuration"')
def _(ctx, shape):
    tag = ctx.tag()
    r = ctx.command(prefix(shape) + ".in", "update", tag=tag)
    expect(r.get("ok"), f"update-guest-configuration failed: {r.get('trace')}")
    ctx.command_until(f"{prefix(shape)}.extra.{tag}", "ok", timeout=20)
    return Passed()


@case("error.trace", V01, "a failed call's error and error.trace()",
      'messaging-types.error: "trace: static func() -> string"', IMPL)
def _(ctx, shape):
    r = ctx.command(prefix(shape) + ".in", "trace")
    if r.get("connect_ok"):
        return Recorded("connect('conformance-no-such-client') succeeded")
    return Recorded(f"connect failed; trace() = {r.get('trace')!r}")


@case("producer.send-list", V01, "send delivers every message of the list",
      'producer.send: "send: func(c: client, ch: channel, m: list<message>)"')
def _(ctx, shape):
    tag = ctx.tag()
    sub = ctx.driver.subscribe(prefix(shape) + ".sent")
    try:
        r = ctx.command(prefix(shape) + ".in", "send-list", tag=tag)
        expect(r.get("ok"), f"send failed: {r.get('trace')}")
        want = {f"{tag}#{i}".encode() for i in range(3)}
        got = ctx.collect(sub, lambda ms: (lambda ds: ds if want <= set(ds) else None)(
            [d for _, d in ms if d in want]), 20, "not all 3 messages arrived")
    finally:
        sub.close()
    return Passed("in order" if got == sorted(got) else f"order {got}")
