// d25.h: helpers shared by the guests of the current wasi:messaging
// 0.2.0-draft (types, producer, request-reply, incoming-handler), built for
// the world messaging-request-reply. Every guest connects to the client
// named "default" and reports to the topic "conf.report".
#pragma once
// clock_gettime under -std=c11.
#define _POSIX_C_SOURCE 200809L

#include "messaging_request_reply.h"
#include "../report.h"

typedef messaging_request_reply_string_t str_t;
typedef messaging_request_reply_list_u8_t bytes_t;
typedef wasi_messaging_types_own_message_t own_msg;
typedef wasi_messaging_types_borrow_message_t msg_ref;
typedef wasi_messaging_types_own_client_t own_client;
typedef wasi_messaging_types_error_t msg_error;

static inline str_t s_(const char* s) {
  str_t out;
  messaging_request_reply_string_set(&out, s);
  return out;
}

static inline const char* error_kind(const msg_error* e) {
  switch (e->tag) {
    case WASI_MESSAGING_TYPES_ERROR_TIMEOUT: return "timeout";
    case WASI_MESSAGING_TYPES_ERROR_CONNECTION: return "connection";
    case WASI_MESSAGING_TYPES_ERROR_PERMISSION_DENIED: return "permission-denied";
    default: return "other";
  }
}

// Adds "<prefix>_error": kind and "<prefix>_text": the error's text (if any).
static inline void rep_error(report_t* r, const char* prefix, const msg_error* e) {
  char key[64];
  snprintf(key, sizeof key, "%s_error", prefix);
  rep_cstr(r, key, error_kind(e));
  const str_t* text = e->tag == WASI_MESSAGING_TYPES_ERROR_CONNECTION          ? &e->val.connection
                      : e->tag == WASI_MESSAGING_TYPES_ERROR_PERMISSION_DENIED ? &e->val.permission_denied
                      : e->tag == WASI_MESSAGING_TYPES_ERROR_OTHER             ? &e->val.other
                                                                               : NULL;
  snprintf(key, sizeof key, "%s_text", prefix);
  if (text) rep_str(r, key, text->ptr, text->len);
}

static inline bool connect_default(own_client* out, msg_error* e) {
  str_t name = s_("default");
  return wasi_messaging_types_static_client_connect(&name, out, e);
}

static inline bool send_bytes(const char* topic, const uint8_t* data, size_t n) {
  own_client c;
  msg_error e;
  if (!connect_default(&c, &e)) {
    wasi_messaging_types_error_free(&e);
    return false;
  }
  bytes_t body = {(uint8_t*)data, n};
  own_msg m = wasi_messaging_types_constructor_message(&body);
  str_t t = s_(topic);
  bool ok = wasi_messaging_producer_send(wasi_messaging_types_borrow_client(c), &t, m, &e);
  if (!ok) wasi_messaging_types_error_free(&e);
  wasi_messaging_types_client_drop_own(c);
  return ok;
}

// Publishes the finished report to conf.report; traps when it cannot, so a
// lost report shows as a failed handler rather than silence.
static inline void rep_send(report_t* r) {
  rep_end(r);
  if (!send_bytes("conf.report", (const uint8_t*)r->buf, r->len)) __builtin_trap();
  free(r->buf);
  r->buf = NULL;
  r->cap = r->len = 0;
}

// Adds what a message shows through its accessors: topic, content-type,
// metadata (null when none) and data (as hex under `data_hex`, and as text
// under `data` when `as_text`).
static inline void rep_message(report_t* r, const char* prefix, msg_ref m, bool as_text) {
  char key[64];
  wasi_messaging_types_topic_t topic;
  snprintf(key, sizeof key, "%stopic", prefix);
  if (wasi_messaging_types_method_message_topic(m, &topic)) {
    rep_str(r, key, topic.ptr, topic.len);
    wasi_messaging_types_topic_free(&topic);
  } else {
    rep_null(r, key);
  }
  str_t ct;
  snprintf(key, sizeof key, "%scontent_type", prefix);
  if (wasi_messaging_types_method_message_content_type(m, &ct)) {
    rep_str(r, key, ct.ptr, ct.len);
    messaging_request_reply_string_free(&ct);
  } else {
    rep_null(r, key);
  }
  wasi_messaging_types_metadata_t md;
  snprintf(key, sizeof key, "%smetadata", prefix);
  if (wasi_messaging_types_method_message_metadata(m, &md)) {
    rep_pairs_open(r, key);
    for (size_t i = 0; i < md.len; ++i)
      rep_pair(r, i, md.ptr[i].f0.ptr, md.ptr[i].f0.len, md.ptr[i].f1.ptr, md.ptr[i].f1.len);
    rep_pairs_close(r);
    wasi_messaging_types_metadata_free(&md);
  } else {
    rep_null(r, key);
  }
  bytes_t data;
  wasi_messaging_types_method_message_data(m, &data);
  snprintf(key, sizeof key, "%sdata", prefix);
  if (as_text) rep_str(r, key, data.ptr, data.len);
  snprintf(key, sizeof key, "%sdata_len", prefix);
  rep_int(r, key, (long long)data.len);
  messaging_request_reply_list_u8_free(&data);
}

// The delivered message's data as a NUL-terminated string (caller frees).
static inline char* data_text(msg_ref m) {
  bytes_t data;
  wasi_messaging_types_method_message_data(m, &data);
  char* text = malloc(data.len + 1);
  memcpy(text, data.ptr, data.len);
  text[data.len] = 0;
  messaging_request_reply_list_u8_free(&data);
  return text;
}

static inline void set_error(msg_error* err, const char* text) {
  err->tag = WASI_MESSAGING_TYPES_ERROR_OTHER;
  messaging_request_reply_string_dup(&err->val.other, text);
}

static inline bool topic_is(msg_ref m, const char* want) {
  wasi_messaging_types_topic_t topic;
  if (!wasi_messaging_types_method_message_topic(m, &topic)) return false;
  bool same = topic.len == strlen(want) && memcmp(topic.ptr, want, topic.len) == 0;
  wasi_messaging_types_topic_free(&topic);
  return same;
}
