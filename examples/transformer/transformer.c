// transformer: upper-cases the text of each message, marks it, and sends it
// on to `transform.out`. It edits the message it received and sends that
// same message, so it exercises every setter of the message resource.
#include <string.h>

#include "messaging_core.h"

static void set_error(wasi_messaging_types_error_t* err, const char* text) {
  err->tag = WASI_MESSAGING_TYPES_ERROR_OTHER;
  messaging_core_string_dup(&err->val.other, text);
}

static void add(wasi_messaging_types_borrow_message_t m, const char* key, const char* value) {
  messaging_core_string_t k, v;
  messaging_core_string_set(&k, key);
  messaging_core_string_set(&v, value);
  wasi_messaging_types_method_message_add_metadata(m, &k, &v);
}

bool exports_wasi_messaging_incoming_handler_handle(
    exports_wasi_messaging_incoming_handler_own_message_t message,
    exports_wasi_messaging_incoming_handler_error_t* err) {
  wasi_messaging_types_borrow_message_t m = wasi_messaging_types_borrow_message(message);

  messaging_core_list_u8_t data;
  wasi_messaging_types_method_message_data(m, &data);
  for (size_t i = 0; i < data.len; ++i)
    if (data.ptr[i] >= 'a' && data.ptr[i] <= 'z') data.ptr[i] -= 'a' - 'A';
  wasi_messaging_types_method_message_set_data(m, &data);
  messaging_core_list_u8_free(&data);

  add(m, "transformed-by", "ferry-transformer");
  wasi_messaging_types_topic_t topic;
  if (wasi_messaging_types_method_message_topic(m, &topic)) {
    messaging_core_string_t key;
    messaging_core_string_set(&key, "source-topic");
    wasi_messaging_types_method_message_add_metadata(m, &key, &topic);
    wasi_messaging_types_topic_free(&topic);
  }
  messaging_core_string_t drop;
  messaging_core_string_set(&drop, "drop-me");
  wasi_messaging_types_method_message_remove_metadata(m, &drop);

  messaging_core_string_t text_plain;
  messaging_core_string_set(&text_plain, "text/plain");
  wasi_messaging_types_method_message_set_content_type(m, &text_plain);

  messaging_core_string_t name;
  messaging_core_string_set(&name, "default");
  wasi_messaging_types_own_client_t client;
  wasi_messaging_types_error_t connect_err;
  if (!wasi_messaging_types_static_client_connect(&name, &client, &connect_err)) {
    wasi_messaging_types_message_drop_own(message);
    *err = connect_err;
    return false;
  }
  messaging_core_string_t out;
  messaging_core_string_set(&out, "transform.out");
  wasi_messaging_types_error_t send_err;
  bool sent = wasi_messaging_producer_send(wasi_messaging_types_borrow_client(client), &out, message,
                                           &send_err);
  wasi_messaging_types_client_drop_own(client);
  if (!sent) {
    wasi_messaging_types_error_free(&send_err);
    set_error(err, "transformer: sending to transform.out failed");
    return false;
  }
  return true;
}
