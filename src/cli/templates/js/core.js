// @NAME@: a wasi:messaging component in JavaScript (world messaging-core).
// Each message on `@NAME@.in` goes on to `@NAME@.out` with its text
// upper-cased and a `handled-by: @NAME@` metadata entry.
import { send } from 'wasi:messaging/producer@0.2.0-draft';
import { Client } from 'wasi:messaging/types@0.2.0-draft';

// The key the generated bindings drop a resource under: dropping at once
// frees the host's handle now, not whenever the garbage collector runs.
const dispose = Symbol.dispose ?? Symbol.for('dispose');

export const incomingHandler = {
  handle(message) {
    // Edit the message received, then send that same message on.
    const text = new TextDecoder().decode(message.data());
    message.setData(new TextEncoder().encode(text.toUpperCase()));
    message.addMetadata('handled-by', '@NAME@');

    // "default" is the broker the host runs this component on. A failed
    // connect throws the host's error, which becomes this handler's error;
    // a thrown error is a failed delivery (retried).
    const client = Client.connect('default');
    try {
      send(client, '@NAME@.out', message);
    } catch {
      throw { tag: 'other', val: '@NAME@: sending to @NAME@.out failed' };
    } finally {
      client[dispose]();
    }
  },
};
