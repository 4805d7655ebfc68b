// client: for each message (a name), asks the `greet` service with a 2 s
// timeout for up to two replies, and sends what came back to `client.out`:
// the replies' data sorted and joined by newlines, with metadata
// `replies` = how many. If the request fails it sends "error: <kind>".
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messaging_request_reply.h"

typedef messaging_request_reply_list_u8_t bytes_t;

static int compare(const void* a, const void* b) {
  const bytes_t* x = a;
  const bytes_t* y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->ptr, y->ptr, n);
  return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static const char* kind(const wasi_messaging_types_error_t* e) {
  switch (e->tag) {
    case WASI_MESSAGING_TYPES_ERROR_TIMEOUT: return "timeout";
    case WASI_MESSAGING_TYPES_ERROR_CONNECTION: return "connection";
    case WASI_MESSAGING_TYPES_ERROR_PERMISSION_DENIED: return "permission-denied";
    default: return "other";
  }
}

static bool send_text(wasi_messaging_types_borrow_client_t client, const uint8_t* text, size_t len,
                      const char* replies, wasi_messaging_types_error_t* err) {
  bytes_t body = {(uint8_t*)text, len};
  wasi_messaging_types_own_message_t out = wasi_messaging_types_constructor_message(&body);
  if (replies) {
    messaging_request_reply_string_t k, v;
    messaging_request_reply_string_set(&k, "replies");
    messaging_request_reply_string_set(&v, replies);
    wasi_messaging_types_method_message_add_metadata(wasi_messaging_types_borrow_message(out), &k, &v);
  }
  messaging_request_reply_string_t topic;
  messaging_request_reply_string_set(&topic, "client.out");
  return wasi_messaging_producer_send(client, &topic, out, err);
}

bool exports_wasi_messaging_incoming_handler_handle(
    exports_wasi_messaging_incoming_handler_own_message_t message,
    exports_wasi_messaging_incoming_handler_error_t* err) {
  messaging_request_reply_string_t name;
  messaging_request_reply_string_set(&name, "default");
  wasi_messaging_types_own_client_t client;
  if (!wasi_messaging_types_static_client_connect(&name, &client, err)) {
    wasi_messaging_types_message_drop_own(message);
    return false;
  }
  wasi_messaging_types_borrow_client_t c = wasi_messaging_types_borrow_client(client);

  wasi_messaging_request_reply_own_request_options_t options =
      wasi_messaging_request_reply_constructor_request_options();
  wasi_messaging_request_reply_borrow_request_options_t o =
      wasi_messaging_request_reply_borrow_request_options(options);
  wasi_messaging_request_reply_method_request_options_set_timeout_ms(o, 2000);
  wasi_messaging_request_reply_method_request_options_set_expected_replies(o, 2);

  messaging_request_reply_string_t topic;
  messaging_request_reply_string_set(&topic, "greet");
  wasi_messaging_request_reply_list_own_message_t replies;
  wasi_messaging_types_error_t request_err;
  bool ok = wasi_messaging_request_reply_request(c, &topic, wasi_messaging_types_borrow_message(message),
                                                 &options, &replies, &request_err);
  wasi_messaging_types_message_drop_own(message);

  bool sent;
  if (!ok) {
    char text[64];
    int n = snprintf(text, sizeof text, "error: %s", kind(&request_err));
    wasi_messaging_types_error_free(&request_err);
    sent = send_text(c, (const uint8_t*)text, (size_t)n, NULL, err);
  } else {
    bytes_t* datas = calloc(replies.len ? replies.len : 1, sizeof(bytes_t));
    size_t total = 0;
    for (size_t i = 0; i < replies.len; ++i) {
      wasi_messaging_types_method_message_data(wasi_messaging_types_borrow_message(replies.ptr[i]),
                                               &datas[i]);
      total += datas[i].len + 1;
    }
    qsort(datas, replies.len, sizeof(bytes_t), compare);
    uint8_t* joined = malloc(total ? total : 1);
    size_t at = 0;
    for (size_t i = 0; i < replies.len; ++i) {
      if (i) joined[at++] = '\n';
      memcpy(joined + at, datas[i].ptr, datas[i].len);
      at += datas[i].len;
      messaging_request_reply_list_u8_free(&datas[i]);
    }
    char count[16];
    snprintf(count, sizeof count, "%zu", replies.len);
    sent = send_text(c, joined, at, count, err);
    free(joined);
    free(datas);
    wasi_messaging_request_reply_list_own_message_free(&replies);
  }
  wasi_messaging_types_error_t disconnect_err;
  if (!wasi_messaging_types_method_client_disconnect(c, &disconnect_err))
    wasi_messaging_types_error_free(&disconnect_err);
  wasi_messaging_types_client_drop_own(client);
  return sent;
}
