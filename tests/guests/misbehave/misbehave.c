// misbehave: does what the message says, for the host's tests. Answers go to
// `misbehave.out` as text.
//   "trap"            traps (unreachable)
//   "fail"            returns error other("refused: fail")
//   "loop"            never returns (the host's deadline stops it)
//   "grow"            allocates until memory runs out, then aborts
//   "connect-unknown" connects to client "nope"; sends "<kind>: <text>"
//   "send <topic>"    sends "x" to <topic>; sends "sent" or "<kind>: <text>"
//   "connect <name>"  opens client <name>; sends "connected" or "<kind>: <text>"
//   "bad-topic"       sends to "bad..topic"; sends "<kind>: <text>" of the error
//   "reply-no-inbox"  replies to a message that has no reply address; sends the error
//   "disconnect"      disconnects, then sends on the same client; sends the error
//   "inspect"         sends "topic=<t> content-type=<ct|none> metadata=<k=v,...|none> data=<data>"
//   "echo-request"    requests "misbehave.svc" with no options; sends "<n>: <first reply>"
//   "fail-interrupt"  returns error other("interrupt: fuel exhausted wasm trap")
//   "dup-metadata"    sends "dup" to misbehave.out with metadata [("k","1"),("k","2")]
//   "hoard [<size> [<count>]]"
//                     creates <count> messages of <size> bytes (default 1 MiB; count
//                     default: up to 160 MiB, at most 5000) and never drops them (the
//                     host's limits may trap it); sends "hoarded <count>" if it got there
//   "hoard-clients [<count>]"
//                     connects to "default" without disconnecting until connect fails
//                     (at most <count> times, default 10000); drops them, then sends
//                     "<kind>: <text>" of the failure, or "connected <count>"
//   "use-after-drop"  drops the delivered message, then reads its data through the
//                     stale borrow (traps)
//   "burst <n> <topic>"
//                     sends "<i>" to <topic> for i in 0..n-1 on one client and returns;
//                     a send that fails returns its error ("burst <i>: <kind>: <text>")
//   anything else     sends "ok: <data>"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messaging_request_reply.h"

typedef messaging_request_reply_string_t str_t;
typedef wasi_messaging_types_borrow_message_t msg_ref;

static const char* kind(const wasi_messaging_types_error_t* e) {
  switch (e->tag) {
    case WASI_MESSAGING_TYPES_ERROR_TIMEOUT: return "timeout";
    case WASI_MESSAGING_TYPES_ERROR_CONNECTION: return "connection";
    case WASI_MESSAGING_TYPES_ERROR_PERMISSION_DENIED: return "permission-denied";
    default: return "other";
  }
}

static void describe(const wasi_messaging_types_error_t* e, char* out, size_t n) {
  const str_t* text = e->tag == WASI_MESSAGING_TYPES_ERROR_CONNECTION          ? &e->val.connection
                      : e->tag == WASI_MESSAGING_TYPES_ERROR_PERMISSION_DENIED ? &e->val.permission_denied
                      : e->tag == WASI_MESSAGING_TYPES_ERROR_OTHER             ? &e->val.other
                                                                               : NULL;
  snprintf(out, n, "%s: %.*s", kind(e), text ? (int)text->len : 0, text ? (const char*)text->ptr : "");
}

static wasi_messaging_types_own_client_t connect_default(void) {
  str_t name;
  messaging_request_reply_string_set(&name, "default");
  wasi_messaging_types_own_client_t client;
  wasi_messaging_types_error_t e;
  if (!wasi_messaging_types_static_client_connect(&name, &client, &e)) abort();
  return client;
}

static void report(const char* text) {
  wasi_messaging_types_own_client_t client = connect_default();
  messaging_request_reply_list_u8_t body = {(uint8_t*)text, strlen(text)};
  wasi_messaging_types_own_message_t m = wasi_messaging_types_constructor_message(&body);
  str_t topic;
  messaging_request_reply_string_set(&topic, "misbehave.out");
  wasi_messaging_types_error_t e;
  if (!wasi_messaging_producer_send(wasi_messaging_types_borrow_client(client), &topic, m, &e)) abort();
  wasi_messaging_types_client_drop_own(client);
}

static void inspect(msg_ref m) {
  char out[2048];
  size_t at = 0;
  wasi_messaging_types_topic_t topic;
  bool has_topic = wasi_messaging_types_method_message_topic(m, &topic);
  at += snprintf(out + at, sizeof out - at, "topic=%.*s", has_topic ? (int)topic.len : 4,
                 has_topic ? (const char*)topic.ptr : "none");
  if (has_topic) wasi_messaging_types_topic_free(&topic);
  str_t ct;
  bool has_ct = wasi_messaging_types_method_message_content_type(m, &ct);
  at += snprintf(out + at, sizeof out - at, " content-type=%.*s", has_ct ? (int)ct.len : 4,
                 has_ct ? (const char*)ct.ptr : "none");
  if (has_ct) messaging_request_reply_string_free(&ct);
  wasi_messaging_types_metadata_t md;
  at += snprintf(out + at, sizeof out - at, " metadata=");
  if (wasi_messaging_types_method_message_metadata(m, &md)) {
    for (size_t i = 0; i < md.len; ++i)
      at += snprintf(out + at, sizeof out - at, "%s%.*s=%.*s", i ? "," : "", (int)md.ptr[i].f0.len,
                     (const char*)md.ptr[i].f0.ptr, (int)md.ptr[i].f1.len, (const char*)md.ptr[i].f1.ptr);
    wasi_messaging_types_metadata_free(&md);
  } else {
    at += snprintf(out + at, sizeof out - at, "none");
  }
  messaging_request_reply_list_u8_t data;
  wasi_messaging_types_method_message_data(m, &data);
  snprintf(out + at, sizeof out - at, " data=%.*s", (int)data.len, (const char*)data.ptr);
  messaging_request_reply_list_u8_free(&data);
  report(out);
}

bool exports_wasi_messaging_incoming_handler_handle(
    exports_wasi_messaging_incoming_handler_own_message_t message,
    exports_wasi_messaging_incoming_handler_error_t* err) {
  msg_ref m = wasi_messaging_types_borrow_message(message);
  messaging_request_reply_list_u8_t data;
  wasi_messaging_types_method_message_data(m, &data);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "%.*s", (int)data.len, (const char*)data.ptr);
  messaging_request_reply_list_u8_free(&data);
  char text[512];
  bool ok = true;

  if (strcmp(cmd, "trap") == 0) {
    __builtin_trap();
  } else if (strcmp(cmd, "loop") == 0) {
    volatile int spin = 1;
    while (spin) {
    }
  } else if (strcmp(cmd, "grow") == 0) {
    // Allocates until the host's memory limit says no, then gives up the
    // way a C program does.
    static char* volatile keep;  // stops the compiler from eliding the allocations
    for (;;) {
      char* block = malloc(1 << 20);
      if (!block) abort();
      block[0] = 1;
      keep = block;
    }
  } else if (strcmp(cmd, "fail-interrupt") == 0) {
    // An error whose text looks like an engine failure is still an error.
    err->tag = WASI_MESSAGING_TYPES_ERROR_OTHER;
    messaging_request_reply_string_dup(&err->val.other, "interrupt: fuel exhausted wasm trap");
    ok = false;
  } else if (strcmp(cmd, "dup-metadata") == 0) {
    wasi_messaging_types_own_client_t client = connect_default();
    messaging_request_reply_list_u8_t body = {(uint8_t*)"dup", 3};
    wasi_messaging_types_own_message_t out = wasi_messaging_types_constructor_message(&body);
    messaging_request_reply_tuple2_string_string_t pairs[2];
    messaging_request_reply_string_set(&pairs[0].f0, "k");
    messaging_request_reply_string_set(&pairs[0].f1, "1");
    messaging_request_reply_string_set(&pairs[1].f0, "k");
    messaging_request_reply_string_set(&pairs[1].f1, "2");
    wasi_messaging_types_metadata_t md = {pairs, 2};
    wasi_messaging_types_method_message_set_metadata(wasi_messaging_types_borrow_message(out), &md);
    str_t topic;
    messaging_request_reply_string_set(&topic, "misbehave.out");
    wasi_messaging_types_error_t e;
    if (!wasi_messaging_producer_send(wasi_messaging_types_borrow_client(client), &topic, out, &e)) abort();
    wasi_messaging_types_client_drop_own(client);
  } else if (strcmp(cmd, "hoard") == 0 || strncmp(cmd, "hoard ", 6) == 0) {
    // Message resources live in the host: only the host's limits stop this.
    static uint8_t buffer[1 << 20];
    char* rest = cmd + 5;
    size_t size = *rest ? (size_t)strtoul(rest, &rest, 10) : sizeof buffer;
    if (size > sizeof buffer) size = sizeof buffer;
    for (size_t i = 0; i < size; ++i) buffer[i] = (uint8_t)(i * 131 + i / 256);
    size_t cap = size ? ((size_t)160 << 20) / size : 5000;
    if (cap > 5000) cap = 5000;
    if (*rest) cap = (size_t)strtoul(rest, NULL, 10);
    size_t n = 0;
    for (; n < cap; ++n) {
      messaging_request_reply_list_u8_t body = {buffer, size};
      wasi_messaging_types_constructor_message(&body);  // the handle is never dropped
    }
    snprintf(text, sizeof text, "hoarded %zu", n);
    report(text);
  } else if (strncmp(cmd, "hoard-clients", 13) == 0) {
    enum { kMaxClients = 10000 };
    static wasi_messaging_types_own_client_t held[kMaxClients];
    size_t cap = cmd[13] ? (size_t)strtoul(cmd + 13, NULL, 10) : kMaxClients;
    if (cap > kMaxClients) cap = kMaxClients;
    size_t n = 0;
    str_t name;
    messaging_request_reply_string_set(&name, "default");
    wasi_messaging_types_error_t e;
    bool failed = false;
    while (n < cap) {
      if (!wasi_messaging_types_static_client_connect(&name, &held[n], &e)) {
        failed = true;
        break;
      }
      ++n;
    }
    if (failed) {
      describe(&e, text, sizeof text);
      wasi_messaging_types_error_free(&e);
    } else {
      snprintf(text, sizeof text, "connected %zu", n);
    }
    for (size_t i = 0; i < n; ++i) wasi_messaging_types_client_drop_own(held[i]);
    report(text);
  } else if (strcmp(cmd, "use-after-drop") == 0) {
    wasi_messaging_types_message_drop_own(message);
    messaging_request_reply_list_u8_t stale;
    wasi_messaging_types_method_message_data(m, &stale);  // m borrows the dropped handle
    snprintf(text, sizeof text, "read %zu bytes after drop", stale.len);
    report(text);
    return true;  // the handle is already dropped
  } else if (strcmp(cmd, "fail") == 0) {
    err->tag = WASI_MESSAGING_TYPES_ERROR_OTHER;
    messaging_request_reply_string_dup(&err->val.other, "refused: fail");
    ok = false;
  } else if (strcmp(cmd, "connect-unknown") == 0) {
    str_t name;
    messaging_request_reply_string_set(&name, "nope");
    wasi_messaging_types_own_client_t client;
    wasi_messaging_types_error_t e;
    if (wasi_messaging_types_static_client_connect(&name, &client, &e)) {
      wasi_messaging_types_client_drop_own(client);
      report("connected");
    } else {
      describe(&e, text, sizeof text);
      wasi_messaging_types_error_free(&e);
      report(text);
    }
  } else if (strncmp(cmd, "send ", 5) == 0 || strncmp(cmd, "connect ", 8) == 0) {
    // "send <topic>": sends "x" there; "connect <name>": opens that client.
    const bool send = cmd[0] == 's';
    str_t name;
    messaging_request_reply_string_set(&name, send ? "default" : cmd + 8);
    wasi_messaging_types_own_client_t client;
    wasi_messaging_types_error_t e;
    if (!wasi_messaging_types_static_client_connect(&name, &client, &e)) {
      describe(&e, text, sizeof text);
      wasi_messaging_types_error_free(&e);
    } else if (!send) {
      snprintf(text, sizeof text, "connected");
      wasi_messaging_types_client_drop_own(client);
    } else {
      messaging_request_reply_list_u8_t body = {(uint8_t*)"x", 1};
      str_t topic;
      messaging_request_reply_string_set(&topic, cmd + 5);
      if (wasi_messaging_producer_send(wasi_messaging_types_borrow_client(client), &topic,
                                       wasi_messaging_types_constructor_message(&body), &e)) {
        snprintf(text, sizeof text, "sent");
      } else {
        describe(&e, text, sizeof text);
        wasi_messaging_types_error_free(&e);
      }
      wasi_messaging_types_client_drop_own(client);
    }
    report(text);
  } else if (strncmp(cmd, "burst ", 6) == 0) {
    char* rest = cmd + 6;
    unsigned long n = strtoul(rest, &rest, 10);
    while (*rest == ' ') ++rest;
    wasi_messaging_types_own_client_t client = connect_default();
    str_t topic;
    messaging_request_reply_string_set(&topic, rest);
    wasi_messaging_types_error_t e;
    for (unsigned long i = 0; i < n && ok; ++i) {
      char body_text[32];
      int len = snprintf(body_text, sizeof body_text, "%lu", i);
      messaging_request_reply_list_u8_t body = {(uint8_t*)body_text, (size_t)len};
      if (!wasi_messaging_producer_send(wasi_messaging_types_borrow_client(client), &topic,
                                        wasi_messaging_types_constructor_message(&body), &e)) {
        char why[400];
        describe(&e, why, sizeof why);
        wasi_messaging_types_error_free(&e);
        snprintf(text, sizeof text, "burst %lu: %s", i, why);
        err->tag = WASI_MESSAGING_TYPES_ERROR_OTHER;
        messaging_request_reply_string_dup(&err->val.other, text);
        ok = false;
      }
    }
    wasi_messaging_types_client_drop_own(client);
  } else if (strcmp(cmd, "bad-topic") == 0) {
    wasi_messaging_types_own_client_t client = connect_default();
    messaging_request_reply_list_u8_t body = {(uint8_t*)"x", 1};
    str_t topic;
    messaging_request_reply_string_set(&topic, "bad..topic");
    wasi_messaging_types_error_t e;
    if (wasi_messaging_producer_send(wasi_messaging_types_borrow_client(client), &topic,
                                     wasi_messaging_types_constructor_message(&body), &e)) {
      snprintf(text, sizeof text, "sent");
    } else {
      describe(&e, text, sizeof text);
      wasi_messaging_types_error_free(&e);
    }
    wasi_messaging_types_client_drop_own(client);
    report(text);
  } else if (strcmp(cmd, "reply-no-inbox") == 0) {
    messaging_request_reply_list_u8_t body = {(uint8_t*)"r", 1};
    wasi_messaging_types_error_t e;
    if (wasi_messaging_request_reply_reply(m, wasi_messaging_types_constructor_message(&body), &e)) {
      snprintf(text, sizeof text, "replied");
    } else {
      describe(&e, text, sizeof text);
      wasi_messaging_types_error_free(&e);
    }
    report(text);
  } else if (strcmp(cmd, "disconnect") == 0) {
    wasi_messaging_types_own_client_t client = connect_default();
    wasi_messaging_types_borrow_client_t c = wasi_messaging_types_borrow_client(client);
    wasi_messaging_types_error_t e;
    if (!wasi_messaging_types_method_client_disconnect(c, &e)) abort();
    messaging_request_reply_list_u8_t body = {(uint8_t*)"x", 1};
    str_t topic;
    messaging_request_reply_string_set(&topic, "misbehave.after");
    if (wasi_messaging_producer_send(c, &topic, wasi_messaging_types_constructor_message(&body), &e)) {
      snprintf(text, sizeof text, "sent after disconnect");
    } else {
      describe(&e, text, sizeof text);
      wasi_messaging_types_error_free(&e);
    }
    wasi_messaging_types_client_drop_own(client);
    report(text);
  } else if (strcmp(cmd, "inspect") == 0) {
    inspect(m);
  } else if (strcmp(cmd, "echo-request") == 0) {
    wasi_messaging_types_own_client_t client = connect_default();
    str_t topic;
    messaging_request_reply_string_set(&topic, "misbehave.svc");
    wasi_messaging_request_reply_list_own_message_t replies;
    wasi_messaging_types_error_t e;
    if (wasi_messaging_request_reply_request(wasi_messaging_types_borrow_client(client), &topic, m, NULL,
                                             &replies, &e)) {
      messaging_request_reply_list_u8_t first = {NULL, 0};
      if (replies.len) wasi_messaging_types_method_message_data(wasi_messaging_types_borrow_message(replies.ptr[0]), &first);
      snprintf(text, sizeof text, "%zu: %.*s", replies.len, (int)first.len, (const char*)first.ptr);
      if (replies.len) messaging_request_reply_list_u8_free(&first);
      wasi_messaging_request_reply_list_own_message_free(&replies);
    } else {
      describe(&e, text, sizeof text);
      wasi_messaging_types_error_free(&e);
    }
    wasi_messaging_types_client_drop_own(client);
    report(text);
  } else {
    snprintf(text, sizeof text, "ok: %s", cmd);
    report(text);
  }
  wasi_messaging_types_message_drop_own(message);
  return ok;
}
