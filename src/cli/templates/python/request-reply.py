"""@NAME@: a wasi:messaging request-reply service in Python (world
messaging-request-reply). Answers each request on `@NAME@.in` with
"hello, <request data>"."""

from wit_world import exports
from wit_world.imports import request_reply, types


class IncomingHandler(exports.IncomingHandler):
    def handle(self, message: types.Message) -> None:
        with message:
            reply = types.Message(b"hello, " + message.data())
            reply.set_content_type("text/plain")
            # An Err raised here (e.g. the message carried no reply address)
            # goes back to the host as the handler's error.
            request_reply.reply(message, reply)
