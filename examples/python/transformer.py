"""transformer: upper-cases the text of each message, marks it, and sends it
on to `transform.out` (examples/transformer/transformer.c in Python). It
edits the message it received and sends that same message, so it exercises
every setter of the message resource."""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import producer, types


class IncomingHandler(exports.IncomingHandler):
    def handle(self, message: types.Message) -> None:
        # bytes.upper() changes only a-z, like the C example.
        message.set_data(message.data().upper())
        message.add_metadata("transformed-by", "ferry-transformer")
        topic = message.topic()
        if topic is not None:
            message.add_metadata("source-topic", topic)
        message.remove_metadata("drop-me")
        message.set_content_type("text/plain")

        # A failed connect raises Err(error): the host's reason becomes ours.
        # The message, unsent, is dropped when Python frees it.
        with types.Client.connect("default") as client:
            try:
                producer.send(client, "transform.out", message)
            except Err:
                raise Err(types.Error_Other("transformer: sending to transform.out failed"))
