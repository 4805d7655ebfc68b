"""greeter: a request-reply service. Answers each request with
"hello, <request data>" through request-reply.reply
(examples/greeter/greeter.c in Python)."""

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
