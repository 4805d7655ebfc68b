// transformer: upper-cases the text of each message, marks it, and sends it
// on to `transform.out` (examples/transformer/transformer.c in JavaScript).
// It edits the message it received and sends that same message, so it
// exercises every setter of the message resource.
import { send } from 'wasi:messaging/producer@0.2.0-draft';
import { Client } from 'wasi:messaging/types@0.2.0-draft';

const dispose = Symbol.dispose ?? Symbol.for('dispose');

// Byte by byte and ASCII only, like the C example: the payload need not be
// valid UTF-8.
function upperAscii(bytes) {
  return bytes.map((b) => (b >= 0x61 && b <= 0x7a ? b - 0x20 : b));
}

export const incomingHandler = {
  handle(message) {
    message.setData(upperAscii(message.data()));
    message.addMetadata('transformed-by', 'ferry-transformer');
    const topic = message.topic();
    if (topic !== undefined) message.addMetadata('source-topic', topic);
    message.removeMetadata('drop-me');
    message.setContentType('text/plain');

    let client;
    try {
      client = Client.connect('default');
    } catch (e) {
      message[dispose]();  // not sent, so still ours
      throw e;
    }
    try {
      send(client, 'transform.out', message);
    } catch {
      throw { tag: 'other', val: 'transformer: sending to transform.out failed' };
    } finally {
      client[dispose]();
    }
  },
};
