"""async_ask_echo: the echo that asks first, for the async shape of
wasi:messaging (WASI 0.3), in Python (the C one is
examples/async_echo/async_echo.c built with ECHO_ASKS_FIRST).

Each call sends the message it got as a request to `echo.service`, waits for
the reply, and then sends the message to `echo.out` with the reply's data in
its `echo-reply` metadata. While a call waits for its reply the instance
runs other calls (max_concurrent_per_instance): a handler waiting on another
service is what concurrency per instance is for."""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import producer, request_reply, types


class IncomingHandler(exports.IncomingHandler):
    async def handle(self, message: types.Message) -> None:
        # A failed connect raises Err(error): the host's reason becomes ours.
        client = await types.Client.connect("default")
        with client:
            # No options: wait for one reply, as long as the host allows
            # (max_request_ms, the call's deadline). A request nobody answers
            # raises Err(Error_Timeout), which ends the call with that error.
            replies = await request_reply.request(client, "echo.service", message, None)
            answers = []
            for reply in replies:
                with reply:  # dropped now, not when collected
                    answers.append(reply.data().decode("utf-8", errors="replace"))
            message.add_metadata("echo-reply", answers[0])
            try:
                await producer.send(client, "echo.out", message)
            except Err:
                raise Err(types.Error_Other("async_ask_echo: sending to echo.out failed"))
