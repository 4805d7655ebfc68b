// Sends with the 0.1.0 producer from inside a 2025 handler: the host must
// refuse to load it, naming both shapes.
#include "mixed.h"

bool exports_wasi_messaging_0_2_0_draft_incoming_handler_handle(
    exports_wasi_messaging_0_2_0_draft_incoming_handler_own_message_t message,
    exports_wasi_messaging_0_2_0_draft_incoming_handler_error_t* err) {
  wasi_messaging_0_2_0_draft_types_message_drop_own(message);
  mixed_string_t name;
  mixed_string_set(&name, "default");
  wasi_messaging_0_1_0_messaging_types_own_client_t client;
  wasi_messaging_0_1_0_messaging_types_own_error_t e;
  if (!wasi_messaging_0_1_0_messaging_types_static_client_connect(&name, &client, &e)) return true;
  wasi_messaging_0_1_0_producer_list_message_t none = {0, 0};
  return wasi_messaging_0_1_0_producer_send(client, &name, &none, &e);
}
