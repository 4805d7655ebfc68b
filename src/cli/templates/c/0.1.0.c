// @NAME@: a wasi:messaging@0.1.0 component (world messaging).
// configure() subscribes it to channel `@NAME@.in`; the handler sends each
// message it is given on to `@NAME@.out` with its text upper-cased, and
// returns ok, which completes them.
#include <stdlib.h>
#include <string.h>

#include "messaging.h"

typedef wasi_messaging_messaging_types_own_error_t own_error_t;

bool exports_wasi_messaging_messaging_guest_configure(
    exports_wasi_messaging_messaging_guest_guest_configuration_t* ret, own_error_t* err) {
  // The host frees what configure returns, so it is allocated here.
  ret->channels.len = 1;
  ret->channels.ptr = malloc(sizeof(messaging_string_t));
  messaging_string_dup(&ret->channels.ptr[0], "@NAME@.in");
  ret->extensions.is_some = false;
  return true;
}

// The handler owns the list it is given and frees it.
bool exports_wasi_messaging_messaging_guest_handler(
    exports_wasi_messaging_messaging_guest_list_message_t* ms, own_error_t* err) {
  for (size_t i = 0; i < ms->len; ++i) {
    messaging_list_u8_t* data = &ms->ptr[i].data;
    for (size_t j = 0; j < data->len; ++j)
      if (data->ptr[j] >= 'a' && data->ptr[j] <= 'z') data->ptr[j] -= 'a' - 'A';
  }
  messaging_string_t broker;
  messaging_string_set(&broker, "default");
  wasi_messaging_messaging_types_own_client_t client;
  bool ok = wasi_messaging_messaging_types_static_client_connect(&broker, &client, err);
  if (ok) {
    messaging_string_t channel;
    messaging_string_set(&channel, "@NAME@.out");
    wasi_messaging_producer_list_message_t list = {ms->ptr, ms->len};
    ok = wasi_messaging_producer_send(client, &channel, &list, err);  // consumes the client
  }
  exports_wasi_messaging_messaging_guest_list_message_free(ms);
  return ok;  // an error hands the host's error back as ours: a failed delivery
}
