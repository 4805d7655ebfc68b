// echo_010: the echo example for wasi:messaging@0.1.0. configure() picks no
// channels (ferry.toml subscribes it); the handler sends every record it is
// given, unchanged, to channel `echo.out` in one send, and returns ok, which
// completes them. Ferry drops the channel and ferry-delivery entries it
// added to the metadata, so the echo carries data, format and the sender's
// metadata. Used by the benchmarks (fresh instance per call vs reused).
#include <stdlib.h>
#include <string.h>

#include "messaging.h"

typedef wasi_messaging_messaging_types_own_error_t own_error_t;

bool exports_wasi_messaging_messaging_guest_configure(
    exports_wasi_messaging_messaging_guest_guest_configuration_t* ret, own_error_t* err) {
  ret->channels.len = 0;
  ret->channels.ptr = NULL;
  ret->extensions.is_some = false;
  return true;
}

bool exports_wasi_messaging_messaging_guest_handler(
    exports_wasi_messaging_messaging_guest_list_message_t* ms, own_error_t* err) {
  messaging_string_t name;
  messaging_string_set(&name, "default");
  wasi_messaging_messaging_types_own_client_t client;
  bool ok = wasi_messaging_messaging_types_static_client_connect(&name, &client, err);
  if (ok) {
    messaging_string_t channel;
    messaging_string_set(&channel, "echo.out");
    wasi_messaging_producer_list_message_t list = {ms->ptr, ms->len};
    ok = wasi_messaging_producer_send(client, &channel, &list, err);  // consumes the client
  }
  exports_wasi_messaging_messaging_guest_list_message_free(ms);
  return ok;  // an error hands the host's error resource back as ours
}
