// fetcher: outgoing HTTP from a component built with componentize-js's
// defaults. Each message's data is a URL; the component fetches it and
// sends "<status> <body>" to `fetcher.out`, or "error: <what failed>" when
// the request failed (the host refuses URLs outside the component's
// allow_http grants with the wasi:http error code HTTP-request-denied,
// before any connection). "many:N:URL" fetches URL N times at once and
// sends "many: <answered>/<N>".
import { send } from 'wasi:messaging/producer@0.2.0-draft';
import { Client, Message } from 'wasi:messaging/types@0.2.0-draft';

const dispose = Symbol.dispose ?? Symbol.for('dispose');

// Everything an error carries, its causes included. (componentize-js's
// fetch rejects every failed request with the same TypeError; the
// wasi:http error code, e.g. HTTP-request-denied, does not reach JS.)
function describe(error) {
  const parts = [];
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 4; e = e.cause, depth++)
    parts.push(typeof e === 'object' ? `${e.name ?? 'Error'}: ${e.message ?? JSON.stringify(e)}` : String(e));
  return parts.join(' / ');
}

function publish(text) {
  const client = Client.connect('default');
  try {
    send(client, 'fetcher.out', new Message(new TextEncoder().encode(text)));
  } finally {
    client[dispose]();
  }
}

export const incomingHandler = {
  // An async handler: componentize-js runs the event loop until it settles.
  async handle(message) {
    const url = new TextDecoder().decode(message.data());
    message[dispose]();
    const many = /^many:(\d+):(.*)$/.exec(url);
    if (many) {
      const n = Number(many[1]);
      const all = await Promise.allSettled(Array.from({ length: n }, () => fetch(many[2])));
      publish(`many: ${all.filter((r) => r.status === 'fulfilled').length}/${n}`);
      return;
    }
    let text;
    try {
      const response = await fetch(url);
      text = `${response.status} ${await response.text()}`;
    } catch (error) {
      text = `error: ${describe(error)}`;
    }
    publish(text);
  },
};
