"""@NAME@: a wasi:messaging component in Python (world messaging-core).

Each message on `@NAME@.in` goes on to `@NAME@.out` with its text
upper-cased and a `handled-by: @NAME@` metadata entry."""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import producer, types


class IncomingHandler(exports.IncomingHandler):
    def handle(self, message: types.Message) -> None:
        # Edit the message received, then send that same message on.
        message.set_data(message.data().upper())
        message.add_metadata("handled-by", "@NAME@")

        # "default" is the broker the host runs this component on. A failed
        # connect raises Err(error): the host's reason becomes ours, and a
        # raised Err is a failed delivery (retried).
        with types.Client.connect("default") as client:
            try:
                producer.send(client, "@NAME@.out", message)
            except Err:
                raise Err(types.Error_Other("@NAME@: sending to @NAME@.out failed"))
