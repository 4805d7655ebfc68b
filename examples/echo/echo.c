// echo: sends every message it receives to `echo.out`, with the same data,
// content type and metadata.
#include <string.h>

#include "messaging_core.h"

static void set_error(wasi_messaging_types_error_t* err, const char* text) {
  err->tag = WASI_MESSAGING_TYPES_ERROR_OTHER;
  messaging_core_string_dup(&err->val.other, text);
}

bool exports_wasi_messaging_incoming_handler_handle(
    exports_wasi_messaging_incoming_handler_own_message_t message,
    exports_wasi_messaging_incoming_handler_error_t* err) {
  wasi_messaging_types_borrow_message_t in = wasi_messaging_types_borrow_message(message);

  messaging_core_list_u8_t data;
  wasi_messaging_types_method_message_data(in, &data);
  wasi_messaging_types_own_message_t out = wasi_messaging_types_constructor_message(&data);
  messaging_core_list_u8_free(&data);
  wasi_messaging_types_borrow_message_t out_ref = wasi_messaging_types_borrow_message(out);

  messaging_core_string_t content_type;
  if (wasi_messaging_types_method_message_content_type(in, &content_type)) {
    wasi_messaging_types_method_message_set_content_type(out_ref, &content_type);
    messaging_core_string_free(&content_type);
  }
  wasi_messaging_types_metadata_t metadata;
  if (wasi_messaging_types_method_message_metadata(in, &metadata)) {
    wasi_messaging_types_method_message_set_metadata(out_ref, &metadata);
    wasi_messaging_types_metadata_free(&metadata);
  }
  wasi_messaging_types_message_drop_own(message);

  messaging_core_string_t name;
  messaging_core_string_set(&name, "default");
  wasi_messaging_types_own_client_t client;
  wasi_messaging_types_error_t connect_err;
  if (!wasi_messaging_types_static_client_connect(&name, &client, &connect_err)) {
    wasi_messaging_types_message_drop_own(out);
    *err = connect_err;  // hand the host's reason back as ours
    return false;
  }
  messaging_core_string_t topic;
  messaging_core_string_set(&topic, "echo.out");
  wasi_messaging_types_error_t send_err;
  bool sent = wasi_messaging_producer_send(wasi_messaging_types_borrow_client(client), &topic, out,
                                           &send_err);
  wasi_messaging_types_client_drop_own(client);
  if (!sent) {
    wasi_messaging_types_error_free(&send_err);
    set_error(err, "echo: sending to echo.out failed");
    return false;
  }
  return true;
}
