"""@NAME@: a wasi:messaging request-reply service in Python for the async
shape (WASI 0.3, world messaging-request-reply of the async package).

Answers each request on `@NAME@.in` with "hello, <request data>". `handle`
is a coroutine: while it awaits the reply, the instance runs other calls
(up to max_concurrent_per_instance in ferry.toml)."""

from wit_world import exports
from wit_world.imports import request_reply, types


class IncomingHandler(exports.IncomingHandler):
    async def handle(self, message: types.Message) -> None:
        with message:
            reply = types.Message(b"hello, " + message.data())
            reply.set_content_type("text/plain")
            # An Err raised here (e.g. the message carried no reply address)
            # goes back to the host as the handler's error.
            await request_reply.reply(message, reply)
