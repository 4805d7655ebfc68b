"""echo: sends every message it receives to `echo.out`, with the same data,
content type and metadata (examples/echo/echo.c in Python)."""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import producer, types


class IncomingHandler(exports.IncomingHandler):
    def handle(self, message: types.Message) -> None:
        # `with` drops the received message as soon as it is copied.
        with message:
            out = types.Message(message.data())
            content_type = message.content_type()
            if content_type is not None:
                out.set_content_type(content_type)
            metadata = message.metadata()
            if metadata is not None:
                out.set_metadata(metadata)

        # A failed connect raises Err(error): the host's reason becomes ours.
        with types.Client.connect("default") as client:
            try:
                producer.send(client, "echo.out", out)
            except Err:
                raise Err(types.Error_Other("echo: sending to echo.out failed"))
