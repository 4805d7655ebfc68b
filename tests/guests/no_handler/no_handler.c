// Imports wasi:messaging but exports no handler: there is no way to hand it
// a message. The export below only keeps the import in use.
#include "imports.h"

__attribute__((export_name("ferry-test-connect"))) int ferry_test_connect(void) {
  imports_string_t name;
  imports_string_set(&name, "default");
  wasi_messaging_types_own_client_t client;
  wasi_messaging_types_error_t err;
  if (!wasi_messaging_types_static_client_connect(&name, &client, &err)) return 1;
  wasi_messaging_types_client_drop_own(client);
  return 0;
}
