// chat: the backend of the browser example (examples/browser/). Pages
// publish lines to `chat.post`; chat numbers each and fans it out to
// `chat.room`, which every open page subscribes to. It keeps the last 50
// lines, and answers a request on `chat.history` with them (oldest first,
// one per line), so a page that opens late catches up: request-reply.
// Its memory lives as long as its instance: run it with workers = 1.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messaging_request_reply.h"

#define KEEP 50
#define MAX_LINE 1000

typedef messaging_request_reply_list_u8_t bytes_t;
typedef messaging_request_reply_string_t string_t;

static char g_lines[KEEP][MAX_LINE];
static size_t g_lens[KEEP];
static unsigned long long g_count;

static void set_error(wasi_messaging_types_error_t* err, const char* text) {
  err->tag = WASI_MESSAGING_TYPES_ERROR_OTHER;
  messaging_request_reply_string_dup(&err->val.other, text);
}

static wasi_messaging_types_own_message_t text_message(const uint8_t* text, size_t len) {
  bytes_t body = {(uint8_t*)text, len};
  wasi_messaging_types_own_message_t m = wasi_messaging_types_constructor_message(&body);
  string_t type;
  messaging_request_reply_string_set(&type, "text/plain");
  wasi_messaging_types_method_message_set_content_type(wasi_messaging_types_borrow_message(m), &type);
  return m;
}

// Keeps the line and sends it to chat.room with its number.
static bool post(const bytes_t* data, wasi_messaging_types_error_t* err) {
  const size_t len = data->len < MAX_LINE ? data->len : MAX_LINE;
  const unsigned slot = (unsigned)(g_count % KEEP);
  memcpy(g_lines[slot], data->ptr, len);
  g_lens[slot] = len;
  g_count++;

  wasi_messaging_types_own_message_t out = text_message(data->ptr, len);
  char seq[24];
  snprintf(seq, sizeof seq, "%llu", g_count);
  string_t k, v;
  messaging_request_reply_string_set(&k, "seq");
  messaging_request_reply_string_set(&v, seq);
  wasi_messaging_types_method_message_add_metadata(wasi_messaging_types_borrow_message(out), &k, &v);

  string_t name;
  messaging_request_reply_string_set(&name, "default");
  wasi_messaging_types_own_client_t client;
  if (!wasi_messaging_types_static_client_connect(&name, &client, err)) {
    wasi_messaging_types_message_drop_own(out);
    return false;
  }
  string_t room;
  messaging_request_reply_string_set(&room, "chat.room");
  bool sent = wasi_messaging_producer_send(wasi_messaging_types_borrow_client(client), &room, out, err);
  wasi_messaging_types_client_drop_own(client);
  return sent;
}

// Replies with the kept lines, oldest first, joined by newlines.
static bool history(wasi_messaging_types_borrow_message_t request, wasi_messaging_types_error_t* err) {
  const unsigned long long n = g_count < KEEP ? g_count : KEEP;
  uint8_t* body = malloc(KEEP * (MAX_LINE + 1));
  size_t at = 0;
  for (unsigned long long i = g_count - n; i < g_count; ++i) {
    const unsigned slot = (unsigned)(i % KEEP);
    if (at) body[at++] = '\n';
    memcpy(body + at, g_lines[slot], g_lens[slot]);
    at += g_lens[slot];
  }
  wasi_messaging_types_own_message_t reply = text_message(body, at);
  free(body);
  return wasi_messaging_request_reply_reply(request, reply, err);
}

bool exports_wasi_messaging_incoming_handler_handle(
    exports_wasi_messaging_incoming_handler_own_message_t message,
    exports_wasi_messaging_incoming_handler_error_t* err) {
  wasi_messaging_types_borrow_message_t m = wasi_messaging_types_borrow_message(message);
  wasi_messaging_types_topic_t topic = {0};
  const bool has_topic = wasi_messaging_types_method_message_topic(m, &topic);
  bool ok = false;
  if (!has_topic) {
    set_error(err, "chat: a message without a topic");
  } else if (topic.len == 9 && memcmp(topic.ptr, "chat.post", 9) == 0) {
    bytes_t data;
    wasi_messaging_types_method_message_data(m, &data);
    ok = post(&data, err);
    messaging_request_reply_list_u8_free(&data);
  } else if (topic.len == 12 && memcmp(topic.ptr, "chat.history", 12) == 0) {
    ok = history(m, err);
  } else {
    set_error(err, "chat: unexpected topic");
  }
  if (has_topic) wasi_messaging_types_topic_free(&topic);
  wasi_messaging_types_message_drop_own(message);
  return ok;
}
