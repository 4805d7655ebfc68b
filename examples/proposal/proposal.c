// proposal: the wasi:messaging@0.1.0 guest that the proposal's examples.md
// describes, in C.
//   configure()  subscribes to channels a, b and c.
//   handler()    routes each message on the "channel" metadata key:
//     a  stops listening to a (keeps b and c) and abandons the message;
//     b  pulls from channel d for up to 100 ms, then completes the message;
//     c  sends "hello from guest" to channel d, then completes the message.
// Each step is also written to the channel "proposal.log" so it can be
// watched with `ferry subscribe proposal.log`.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messaging.h"

typedef wasi_messaging_messaging_types_message_t message_t;
typedef wasi_messaging_messaging_types_own_error_t own_error_t;
typedef wasi_messaging_messaging_types_own_client_t own_client_t;

static messaging_string_t str(const char* s) {
  messaging_string_t out;
  messaging_string_set(&out, s);
  return out;
}

// Clients are consumed by every call that takes one, so each use connects.
static own_client_t connect(void) {
  messaging_string_t name = str("default");
  own_client_t client;
  own_error_t e;
  if (!wasi_messaging_messaging_types_static_client_connect(&name, &client, &e)) abort();
  return client;
}

static bool send_text(const char* channel, const char* text) {
  message_t m = {{(uint8_t*)text, strlen(text)}, WASI_MESSAGING_MESSAGING_TYPES_FORMAT_SPEC_RAW,
                 {false}};
  wasi_messaging_producer_list_message_t list = {&m, 1};
  messaging_string_t ch = str(channel);
  own_error_t e;
  if (wasi_messaging_producer_send(connect(), &ch, &list, &e)) return true;
  wasi_messaging_messaging_types_error_drop_own(e);
  return false;
}

static void note(const char* text) {
  printf("%s\n", text);
  send_text("proposal.log", text);
}

// The value of the "channel" metadata key, or "" without one.
static const char* channel_of(const message_t* m, char* out, size_t n) {
  out[0] = 0;
  if (!m->metadata.is_some) return out;
  for (size_t i = 0; i < m->metadata.val.len; ++i) {
    const messaging_tuple2_string_string_t* kv = &m->metadata.val.ptr[i];
    if (kv->f0.len == 7 && memcmp(kv->f0.ptr, "channel", 7) == 0)
      snprintf(out, n, "%.*s", (int)kv->f1.len, (const char*)kv->f1.ptr);
  }
  return out;
}

bool exports_wasi_messaging_messaging_guest_configure(
    exports_wasi_messaging_messaging_guest_guest_configuration_t* ret, own_error_t* err) {
  // The host frees what configure returns, so it is allocated here.
  static const char* channels[] = {"a", "b", "c"};
  ret->channels.len = 3;
  ret->channels.ptr = malloc(3 * sizeof(messaging_string_t));
  for (size_t i = 0; i < 3; ++i) messaging_string_dup(&ret->channels.ptr[i], channels[i]);
  ret->extensions.is_some = false;
  return true;
}

static void on_a(message_t* m) {
  messaging_string_t keep[] = {str("b"), str("c")};
  wasi_messaging_messaging_types_guest_configuration_t gc = {{keep, 2}, {false}};
  own_error_t e;
  if (!wasi_messaging_consumer_update_guest_configuration(&gc, &e)) {
    wasi_messaging_messaging_types_error_drop_own(e);
    note("a: could not unsubscribe from a");
  }
  if (wasi_messaging_consumer_abandon_message(m, &e)) {
    note("a: unsubscribed from a, abandoned the message");
  } else {
    wasi_messaging_messaging_types_error_drop_own(e);
    note("a: could not abandon the message");
  }
}

static void on_b(message_t* m) {
  messaging_string_t d = str("d");
  wasi_messaging_consumer_option_list_message_t got;
  own_error_t e;
  char line[256];
  if (wasi_messaging_consumer_subscribe_try_receive(connect(), &d, 100, &got, &e)) {
    snprintf(line, sizeof line, "b: pulled %zu from d", got.is_some ? got.val.len : 0);
    wasi_messaging_consumer_option_list_message_free(&got);
  } else {
    wasi_messaging_messaging_types_error_drop_own(e);
    snprintf(line, sizeof line, "b: pulling from d failed");
  }
  if (wasi_messaging_consumer_complete_message(m, &e)) {
    note(line);
  } else {
    wasi_messaging_messaging_types_error_drop_own(e);
  }
}

static void on_c(message_t* m) {
  own_error_t e;
  const bool sent = send_text("d", "hello from guest");
  if (wasi_messaging_consumer_complete_message(m, &e)) {
    note(sent ? "c: sent to d" : "c: sending to d failed");
  } else {
    wasi_messaging_messaging_types_error_drop_own(e);
  }
}

// The handler owns the list it is given and frees it.
bool exports_wasi_messaging_messaging_guest_handler(
    exports_wasi_messaging_messaging_guest_list_message_t* ms, own_error_t* err) {
  for (size_t i = 0; i < ms->len; ++i) {
    char channel[64];
    channel_of(&ms->ptr[i], channel, sizeof channel);
    if (strcmp(channel, "a") == 0) on_a(&ms->ptr[i]);
    else if (strcmp(channel, "b") == 0) on_b(&ms->ptr[i]);
    else if (strcmp(channel, "c") == 0) on_c(&ms->ptr[i]);
    // Anything else is left to the handler's result: ok completes it.
  }
  exports_wasi_messaging_messaging_guest_list_message_free(ms);
  return true;
}
