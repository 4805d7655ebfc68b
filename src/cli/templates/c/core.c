// @NAME@: a wasi:messaging component (world messaging-core).
// Each message on `@NAME@.in` goes on to `@NAME@.out` with its text
// upper-cased and a `handled-by: @NAME@` metadata entry.
#include <string.h>

#include "messaging_core.h"

static void set_error(wasi_messaging_types_error_t* err, const char* text) {
  err->tag = WASI_MESSAGING_TYPES_ERROR_OTHER;
  messaging_core_string_dup(&err->val.other, text);
}

bool exports_wasi_messaging_incoming_handler_handle(
    exports_wasi_messaging_incoming_handler_own_message_t message,
    exports_wasi_messaging_incoming_handler_error_t* err) {
  wasi_messaging_types_borrow_message_t m = wasi_messaging_types_borrow_message(message);

  // Edit the message received, then send that same message on.
  messaging_core_list_u8_t data;
  wasi_messaging_types_method_message_data(m, &data);
  for (size_t i = 0; i < data.len; ++i)
    if (data.ptr[i] >= 'a' && data.ptr[i] <= 'z') data.ptr[i] -= 'a' - 'A';
  wasi_messaging_types_method_message_set_data(m, &data);
  messaging_core_list_u8_free(&data);
  messaging_core_string_t key, value;
  messaging_core_string_set(&key, "handled-by");
  messaging_core_string_set(&value, "@NAME@");
  wasi_messaging_types_method_message_add_metadata(m, &key, &value);

  // "default" is the broker the host runs this component on.
  messaging_core_string_t broker;
  messaging_core_string_set(&broker, "default");
  wasi_messaging_types_own_client_t client;
  wasi_messaging_types_error_t connect_err;
  if (!wasi_messaging_types_static_client_connect(&broker, &client, &connect_err)) {
    wasi_messaging_types_message_drop_own(message);
    *err = connect_err;  // the host's reason becomes ours
    return false;
  }
  messaging_core_string_t topic;
  messaging_core_string_set(&topic, "@NAME@.out");
  wasi_messaging_types_error_t send_err;
  bool sent = wasi_messaging_producer_send(wasi_messaging_types_borrow_client(client), &topic,
                                           message, &send_err);  // takes the message
  wasi_messaging_types_client_drop_own(client);
  if (!sent) {
    wasi_messaging_types_error_free(&send_err);
    set_error(err, "@NAME@: sending to @NAME@.out failed");
    return false;
  }
  return true;  // a false return (with *err set) is a failed delivery: retried
}
