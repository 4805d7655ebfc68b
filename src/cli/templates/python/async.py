"""@NAME@: a wasi:messaging component in Python for the async shape (WASI
0.3, world messaging-core of the async package).

Each message on `@NAME@.in` goes on to `@NAME@.out` with its text
upper-cased and a `handled-by: @NAME@` metadata entry. `handle` is a
coroutine: while it awaits connect or send, the instance runs other calls
(up to max_concurrent_per_instance in ferry.toml)."""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import producer, types


class IncomingHandler(exports.IncomingHandler):
    async def handle(self, message: types.Message) -> None:
        # Edit the message received, then send that same message on.
        message.set_data(message.data().upper())
        message.add_metadata("handled-by", "@NAME@")

        # "default" is the broker the host runs this component on. A failed
        # connect raises Err(error): the host's reason becomes ours, and a
        # raised Err is a failed delivery (retried).
        with await types.Client.connect("default") as client:
            try:
                await producer.send(client, "@NAME@.out", message)
            except Err:
                raise Err(types.Error_Other("@NAME@: sending to @NAME@.out failed"))
