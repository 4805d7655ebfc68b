// copy_echo: the echo that moves the payload through its own memory. It
// reads the data of the message it receives (one copy into guest memory),
// writes it back with set-data (one copy out) and sends the message on to
// `echo.out`. The benchmarks compare it with two memcpy's of the payload;
// examples/echo, which forwards the message untouched, copies nothing.
// The boundary tests use it for the message-size limit of set-data.
#include <stdbool.h>

#include "messaging_core.h"

static wasi_messaging_types_own_client_t client;
static bool connected = false;

bool exports_wasi_messaging_incoming_handler_handle(
    exports_wasi_messaging_incoming_handler_own_message_t message,
    exports_wasi_messaging_incoming_handler_error_t* err) {
  wasi_messaging_types_borrow_message_t m = wasi_messaging_types_borrow_message(message);
  messaging_core_list_u8_t data;
  wasi_messaging_types_method_message_data(m, &data);
  wasi_messaging_types_method_message_set_data(m, &data);
  messaging_core_list_u8_free(&data);
  if (!connected) {
    messaging_core_string_t name;
    messaging_core_string_set(&name, "default");
    wasi_messaging_types_error_t connect_err;
    if (!wasi_messaging_types_static_client_connect(&name, &client, &connect_err)) {
      wasi_messaging_types_message_drop_own(message);
      *err = connect_err;
      return false;
    }
    connected = true;
  }
  messaging_core_string_t topic;
  messaging_core_string_set(&topic, "echo.out");
  wasi_messaging_types_error_t send_err;
  if (!wasi_messaging_producer_send(wasi_messaging_types_borrow_client(client), &topic, message, &send_err)) {
    if (send_err.tag == WASI_MESSAGING_TYPES_ERROR_CONNECTION) {
      wasi_messaging_types_client_drop_own(client);
      connected = false;
    }
    *err = send_err;  // the host's reason is the echo's
    return false;
  }
  return true;
}
