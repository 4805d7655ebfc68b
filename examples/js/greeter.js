// greeter: a request-reply service. Answers each request with
// "hello, <request data>" through request-reply.reply
// (examples/greeter/greeter.c in JavaScript).
import { reply } from 'wasi:messaging/request-reply@0.2.0-draft';
import { Message } from 'wasi:messaging/types@0.2.0-draft';

const dispose = Symbol.dispose ?? Symbol.for('dispose');
const prefix = new TextEncoder().encode('hello, ');

export const incomingHandler = {
  handle(message) {
    const name = message.data();
    const body = new Uint8Array(prefix.length + name.length);
    body.set(prefix);
    body.set(name, prefix.length);
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
