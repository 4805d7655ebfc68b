// d25_handler: what the host does with handle()'s result, for
// wasi:messaging 0.2.0-draft. Subscribed to conf.d25.handler. Every
// delivery first reports {"tag", "verb": "seen", "action"} on conf.report,
// then acts on "<tag> <action>":
//   ok     returns ok
//   fail   returns error other("conformance: fail")
//   trap   traps (unreachable)
#include "d25.h"

bool exports_wasi_messaging_incoming_handler_handle(own_msg message, msg_error* err) {
  char* text = data_text(wasi_messaging_types_borrow_message(message));
  wasi_messaging_types_message_drop_own(message);
  char *tag, *action, *arg;
  if (!parse_command(text, &tag, &action, &arg)) {
    free(text);
    return true;
  }
  report_t r = {0};
  rep_begin(&r, (const uint8_t*)tag, strlen(tag));
  rep_cstr(&r, "verb", "seen");
  rep_cstr(&r, "action", action);
  rep_send(&r);
  bool ok = true;
  if (strcmp(action, "trap") == 0) __builtin_trap();
  if (strcmp(action, "fail") == 0) {
    set_error(err, "conformance: fail");
    ok = false;
  }
  free(text);
  return ok;
}
