// echo: sends every message it receives to `echo.out`, with the same data,
// content type and metadata.
//
// It sends the message it was given (`send` takes ownership of it) instead
// of building a copy, and keeps one client for the instance's life, so an
// echo costs one host call: the send. A client that failed is dropped and
// the next message connects again.
#include <stdbool.h>

#include "messaging_core.h"

static wasi_messaging_types_own_client_t client;
static bool connected = false;

static void disconnect(void) {
  if (!connected) return;
  wasi_messaging_types_client_drop_own(client);
  connected = false;
}

bool exports_wasi_messaging_incoming_handler_handle(
    exports_wasi_messaging_incoming_handler_own_message_t message,
    exports_wasi_messaging_incoming_handler_error_t* err) {
  if (!connected) {
    messaging_core_string_t name;
    messaging_core_string_set(&name, "default");
    wasi_messaging_types_error_t connect_err;
    if (!wasi_messaging_types_static_client_connect(&name, &client, &connect_err)) {
      wasi_messaging_types_message_drop_own(message);
      *err = connect_err;  // hand the host's reason back as ours
      return false;
    }
    connected = true;
  }
  messaging_core_string_t topic;
  messaging_core_string_set(&topic, "echo.out");
  wasi_messaging_types_error_t send_err;
  if (!wasi_messaging_producer_send(wasi_messaging_types_borrow_client(client), &topic, message, &send_err)) {
    if (send_err.tag == WASI_MESSAGING_TYPES_ERROR_CONNECTION) disconnect();
    *err = send_err;  // the host's reason is the echo's
    return false;
  }
  return true;
}
