// @NAME@: a wasi:messaging request-reply service in JavaScript (world
// messaging-request-reply). Answers each request on `@NAME@.in` with
// "hello, <request data>".
import { reply } from 'wasi:messaging/request-reply@0.2.0-draft';
import { Message } from 'wasi:messaging/types@0.2.0-draft';

const dispose = Symbol.dispose ?? Symbol.for('dispose');
const prefix = new TextEncoder().encode('hello, ');

export const incomingHandler = {
  handle(message) {
    const who = message.data();
    const body = new Uint8Array(prefix.length + who.length);
    body.set(prefix);
    body.set(who, prefix.length);
    const answer = new Message(body);
    answer.setContentType('text/plain');
    try {
      // A thrown error (e.g. the message carried no reply address) goes
      // back to the host as the handler's error.
      reply(message, answer);
    } finally {
      message[dispose]();
    }
  },
};
