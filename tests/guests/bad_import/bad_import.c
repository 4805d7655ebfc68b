// Imports ferry-test:bad-import/gadget, which no host provides.
#include "bad_import.h"

bool exports_wasi_messaging_incoming_handler_handle(
    exports_wasi_messaging_incoming_handler_own_message_t message,
    exports_wasi_messaging_incoming_handler_error_t* err) {
  wasi_messaging_types_message_drop_own(message);
  return ferry_test_bad_import_gadget_spin() > 0;
}
