"""async_echo: the echo for the async shape of wasi:messaging (WASI 0.3), in
Python (examples/async_echo/async_echo.c). `handle` is a coroutine: while it
awaits a send, the instance runs other calls (max_concurrent_per_instance)."""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import producer, types


class IncomingHandler(exports.IncomingHandler):
    async def handle(self, message: types.Message) -> None:
        # A failed connect raises Err(error): the host's reason becomes ours.
        client = await types.Client.connect("default")
        with client:
            try:
                # send takes the message it was given: nothing is copied.
                await producer.send(client, "echo.out", message)
            except Err:
                raise Err(types.Error_Other("async_echo: sending to echo.out failed"))
