// Ferry's browser client: talks to the components a Ferry host runs, through
// its WebSocket gateway ([gateway] in ferry.toml). No dependencies; served
// by the gateway itself at /ferry-client.js. Framing: docs/GATEWAY.md.
//
//   import { connect } from "/ferry-client.js";
//   const ferry = connect();                       // this page's own gateway
//   await ferry.publish("chat.post", "hi");        // resolves once Ferry accepted it
//   const sub = ferry.subscribe("chat.room", (m) => console.log(m.text));
//   const [reply] = await ferry.request("chat.history", "", { timeout: 2000 });
//
// While offline, publishes wait in a bounded queue and go out on reconnect;
// a publish's promise resolves only when the gateway acknowledged it, so a
// page that goes offline and back loses nothing it was told was accepted.
// One that was sent but not acknowledged is sent again: at least once.

const VERSION = 1;
const OP = { publish: 1, subscribe: 2, unsubscribe: 3, request: 4, ack: 0x81, error: 0x82, message: 0x83, replies: 0x84 };
const ERROR_CODES = ["invalid-argument", "not-found", "timeout", "connection", "permission-denied",
  "resource-exhausted", "failed-precondition", "cancelled", "unsupported", "guest", "internal"];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class FerryError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "FerryError";
    this.code = code; // one of ERROR_CODES, or "offline", "closed", "queue-full"
  }
}

function toBytes(data) {
  if (data === undefined || data === null) return new Uint8Array(0);
  if (typeof data === "string") return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return encoder.encode(JSON.stringify(data));
}

function defaultContentType(data) {
  if (typeof data === "string") return "text/plain";
  if (data === undefined || data === null || data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return "";
  return "application/json";
}

class Writer {
  constructor() { this.parts = []; this.size = 0; }
  u8(v) { this.push(Uint8Array.of(v)); }
  u16(v) { const b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, v); this.push(b); }
  u32(v) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v >>> 0); this.push(b); }
  str(s) {
    const b = encoder.encode(s || "");
    if (b.length > 0xffff) throw new FerryError("invalid-argument", "a string field is longer than 65535 bytes");
    this.u16(b.length); this.push(b);
  }
  message(m) {
    this.str(m.topic); this.str(m.contentType || ""); this.str("");
    const entries = Object.entries(m.metadata || {});
    this.u16(entries.length);
    for (const [k, v] of entries) { this.str(k); this.str(String(v)); }
    this.u32(m.data.length); this.push(m.data);
  }
  push(b) { this.parts.push(b); this.size += b.length; }
  bytes() {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) { out.set(p, at); at += p.length; }
    return out;
  }
}

function header(op, id) {
  const w = new Writer();
  w.u8(VERSION); w.u8(op); w.u32(id);
  return w;
}

class Reader {
  constructor(buffer) { this.view = new DataView(buffer); this.bytes = new Uint8Array(buffer); this.at = 0; }
  need(n) { if (this.at + n > this.bytes.length) throw new FerryError("internal", "malformed frame from the gateway"); }
  u8() { this.need(1); return this.view.getUint8(this.at++); }
  u16() { this.need(2); const v = this.view.getUint16(this.at); this.at += 2; return v; }
  u32() { this.need(4); const v = this.view.getUint32(this.at); this.at += 4; return v; }
  raw(n) { this.need(n); const b = this.bytes.slice(this.at, this.at + n); this.at += n; return b; }
  str() { return decoder.decode(this.raw(this.u16())); }
  message() {
    const topic = this.str(), contentType = this.str(), replyTo = this.str();
    const metadata = {};
    for (let n = this.u16(); n > 0; n--) { const k = this.str(); metadata[k] = this.str(); }
    const data = this.raw(this.u32());
    return {
      topic, contentType: contentType || null, replyTo: replyTo || null, metadata, data,
      get text() { return decoder.decode(data); },
      json() { return JSON.parse(decoder.decode(data)); },
    };
  }
}

function defaultUrl() {
  const l = globalThis.location;
  if (!l) throw new FerryError("invalid-argument", "connect() needs a url outside a page");
  return (l.protocol === "https:" ? "wss://" : "ws://") + l.host + "/";
}

class FerryClient {
  constructor(options) {
    this.url = options.url || defaultUrl();
    if (options.token) this.url += (this.url.includes("?") ? "&" : "?") + "access_token=" + encodeURIComponent(options.token);
    this.maxQueued = options.maxQueued ?? 1000;
    this.minDelay = options.reconnectDelay ?? 250;
    this.maxDelay = options.maxReconnectDelay ?? 5000;
    this.nextId = 1;
    this.publishes = new Map();   // id → {frame, resolve, reject}: not yet acknowledged, in order
    this.calls = new Map();       // id → {resolve, reject, timer}: subscribe acks, unsubscribes, requests
    this.subs = new Map();        // id → {pattern, onMessage}
    this.listeners = new Set();
    this.state = "connecting";
    this.closed = false;
    this.delay = this.minDelay;
    this.onlineHandler = () => { if (this.state !== "open") this.reconnectNow(); };
    globalThis.addEventListener?.("online", this.onlineHandler);
    this.open();
  }

  // "connecting", "open" or "closed"; fn(state) on every change.
  get status() { return this.state; }
  onStatus(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  // Publishes waiting for the gateway's acknowledgement (queued offline or in flight).
  get queued() { return this.publishes.size; }

  publish(topic, data, options = {}) {
    if (this.closed) return Promise.reject(new FerryError("closed", "the client is closed"));
    if (this.publishes.size >= this.maxQueued)
      return Promise.reject(new FerryError("queue-full", `${this.publishes.size} publishes wait already (maxQueued)`));
    const id = this.id();
    const w = header(OP.publish, id);
    w.message({ topic, data: toBytes(data), contentType: options.contentType ?? defaultContentType(data), metadata: options.metadata });
    const frame = w.bytes();
    return new Promise((resolve, reject) => {
      this.publishes.set(id, { frame, resolve, reject });
      this.send(frame);
    });
  }

  // Calls onMessage(message) for each message on `pattern` ('*' one token,
  // '>' the rest), across reconnects. Returns { ready: Promise, unsubscribe() }.
  subscribe(pattern, onMessage) {
    const id = this.id();
    this.subs.set(id, { pattern, onMessage });
    const ready = this.state === "open" ? this.sendSubscribe(id) : new Promise((resolve, reject) => {
      this.subs.get(id).waiting = { resolve, reject };
    });
    return {
      ready,
      unsubscribe: () => {
        if (!this.subs.delete(id) || this.state !== "open") return Promise.resolve();
        return this.call(id, header(OP.unsubscribe, id).bytes(), 0);
      },
    };
  }

  // Sends a request and resolves with the replies (an array) once
  // `replies` arrived, or with those that came within `timeout` ms; none is
  // a "timeout" FerryError. Offline, it fails at once.
  request(topic, data, options = {}) {
    if (this.state !== "open") return Promise.reject(new FerryError("offline", "not connected to the gateway"));
    const id = this.id();
    const timeout = options.timeout ?? 5000;
    const w = header(OP.request, id);
    w.u32(timeout); w.u32(options.replies ?? 1);
    w.message({ topic, data: toBytes(data), contentType: options.contentType ?? defaultContentType(data), metadata: options.metadata });
    return this.call(id, w.bytes(), timeout + 5000);
  }

  close() {
    this.closed = true;
    globalThis.removeEventListener?.("online", this.onlineHandler);
    clearTimeout(this.retryTimer);
    this.ws?.close(1000);
    const err = new FerryError("closed", "the client is closed");
    for (const p of this.publishes.values()) p.reject(err);
    this.publishes.clear();
    this.failCalls(err);
    this.setState("closed");
  }

  // -- internals
  id() { const id = this.nextId; this.nextId = this.nextId >= 0xfffffffe ? 1 : this.nextId + 1; return id; }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    for (const fn of this.listeners) { try { fn(s); } catch (e) { console.error(e); } }
  }

  open() {
    this.setState("connecting");
    let ws;
    try { ws = new WebSocket(this.url); } catch (e) { return this.scheduleReconnect(); }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this.delay = this.minDelay;
      this.setState("open");
      for (const [id, sub] of this.subs) {
        const p = this.sendSubscribe(id);
        if (sub.waiting) { p.then(sub.waiting.resolve, sub.waiting.reject); delete sub.waiting; }
      }
      // Everything not acknowledged, oldest first.
      for (const p of this.publishes.values()) ws.send(p.frame);
    };
    ws.onmessage = (ev) => this.onFrame(ev.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failCalls(new FerryError("offline", "the connection to the gateway closed"));
      if (!this.closed) this.scheduleReconnect();
    };
  }

  scheduleReconnect() {
    this.setState("connecting");
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), this.delay);
    this.delay = Math.min(this.delay * 2, this.maxDelay);
  }

  reconnectNow() {
    if (this.closed || (this.ws && this.ws.readyState === WebSocket.CONNECTING)) return;
    this.delay = this.minDelay;
    clearTimeout(this.retryTimer);
    this.ws?.close();
    this.ws = null;
    this.open();
  }

  send(frame) {
    if (this.state === "open" && this.ws?.readyState === WebSocket.OPEN) this.ws.send(frame);
  }

  sendSubscribe(id) {
    const w = header(OP.subscribe, id);
    w.str(this.subs.get(id).pattern);
    return this.call(id, w.bytes(), 0);
  }

  call(id, frame, timeout) {
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject };
      if (timeout > 0) entry.timer = setTimeout(() => {
        this.calls.delete(id);
        reject(new FerryError("timeout", "no answer from the gateway"));
      }, timeout);
      this.calls.set(id, entry);
      this.send(frame);
    });
  }

  failCalls(err) {
    for (const c of this.calls.values()) { clearTimeout(c.timer); c.reject(err); }
    this.calls.clear();
  }

  onFrame(buffer) {
    const r = new Reader(buffer);
    if (r.u8() !== VERSION) return;
    const op = r.u8(), id = r.u32();
    if (op === OP.message) {
      const sub = this.subs.get(id);
      if (sub) { try { sub.onMessage(r.message()); } catch (e) { console.error(e); } }
      return;
    }
    let value, error;
    if (op === OP.error) {
      const code = r.u8();
      error = new FerryError(ERROR_CODES[code] || "internal", r.str());
    } else if (op === OP.replies) {
      value = [];
      for (let n = r.u32(); n > 0; n--) value.push(r.message());
    }
    const pub = this.publishes.get(id);
    if (pub) {
      this.publishes.delete(id);
      return error ? pub.reject(error) : pub.resolve();
    }
    const call = this.calls.get(id);
    if (call) {
      this.calls.delete(id);
      clearTimeout(call.timer);
      return error ? call.reject(error) : call.resolve(value);
    }
    if (error) console.warn("ferry gateway:", error.message);
  }
}

// Opens a client. options: url (default: this page's origin), token,
// maxQueued (publishes held offline, 1000), reconnectDelay and
// maxReconnectDelay (ms, 250 and 5000).
export function connect(options = {}) {
  return new FerryClient(options);
}
