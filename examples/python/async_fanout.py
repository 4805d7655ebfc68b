"""async_fanout: one message in, many out, sent concurrently, for the async
shape of wasi:messaging (WASI 0.3), in Python.

A message on its subscriptions whose data is a count N (decimal, 1 to 1000)
becomes N messages on `fanout.out`, "<i>/<N>", all sent at once with
asyncio.gather: every send is started before any is waited for, and the
call ends when the broker has taken all of them. Each one carries in its
`calls-in-flight` metadata how many handle calls this instance had in
flight when the call started sending (several, with
max_concurrent_per_instance above 1 and more deliveries waiting)."""

import asyncio

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import producer, types

# One instance is one interpreter: its calls share these.
in_flight = 0


class IncomingHandler(exports.IncomingHandler):
    async def handle(self, message: types.Message) -> None:
        global in_flight
        in_flight += 1
        try:
            await fan_out(message)
        finally:
            in_flight -= 1


async def fan_out(message: types.Message) -> None:
    with message:
        text = message.data().decode("utf-8", errors="replace").strip()
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        reason = f"async_fanout: want a count from 1 to 1000, got {text[:40]!r}"
        raise Err(types.Error_Other(reason))
    n = int(text)
    client = await types.Client.connect("default")
    with client:
        seen = str(in_flight)
        sends = []
        for i in range(n):
            out = types.Message(f"{i + 1}/{n}".encode())
            out.add_metadata("calls-in-flight", seen)
            sends.append(producer.send(client, "fanout.out", out))  # send takes `out`
        results = await asyncio.gather(*sends, return_exceptions=True)
    failed = sum(1 for r in results if isinstance(r, BaseException))
    if failed:
        raise Err(types.Error_Other(f"async_fanout: {failed} of {n} sends to fanout.out failed"))
