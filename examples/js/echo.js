// echo: sends every message it receives to `echo.out`, with the same data,
// content type and metadata (examples/echo/echo.c in JavaScript).
import { send } from 'wasi:messaging/producer@0.2.0-draft';
import { Client, Message } from 'wasi:messaging/types@0.2.0-draft';

// The key the generated bindings drop a resource under. Dropping at once
// frees the host's handle now, not whenever the garbage collector runs.
const dispose = Symbol.dispose ?? Symbol.for('dispose');

export const incomingHandler = {
  handle(message) {
    const out = new Message(message.data());
    const contentType = message.contentType();
    if (contentType !== undefined) out.setContentType(contentType);
    const metadata = message.metadata();
    if (metadata !== undefined) out.setMetadata(metadata);
    message[dispose]();

    // A failed connect throws the host's error as its payload, which the
    // bindings hand back as this handler's error unchanged.
    const client = Client.connect('default');
    try {
      send(client, 'echo.out', out);
    } catch {
      throw { tag: 'other', val: 'echo: sending to echo.out failed' };
    } finally {
      client[dispose]();
    }
  },
};
