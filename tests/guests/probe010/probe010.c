// probe010: a wasi:messaging@0.1.0 guest that does what each message says,
// for the host's tests. It subscribes to "probe.in" in configure() and
// reports to "probe.out" as text, one report per command.
//   "trap"              traps (unreachable)
//   "loop"              never returns (the host's deadline stops it)
//   "fail"              returns the error of a failed connect
//   "complete"          completes the message, reports "completed"
//   "abandon"           abandons the message, reports "abandoned"
//   "complete-twice"    completes twice; reports the second error's trace
//   "abandon-complete"  abandons, then completes; reports the second error
//   "forge"             completes a record tagged with a made-up delivery
//   "untagged"          completes a record without metadata
//   "bad-channel"       update-guest-configuration(["a..b"]); reports the error
//   "bad-send"          sends to "bad..channel"; reports the error
//   "inspect"           reports "batch=<n> format=<f> data=<d> metadata=<k=v,...>"
//   "subscribe <c>,..." update-guest-configuration(["probe.in", <c>, ...])
//   "pull <ch> <ms>"    subscribe-try-receive; reports "pulled <n>: <first>" or "pulled none"
//   "pull-block <ch>"   subscribe-receive; reports "pulled <n>: <first>" or the error
//   "count"             reports how many handler calls this instance has seen
//   "tag"               reports the message's ferry-delivery tag
//   "complete-tag <t>"  completes a record tagged <t>; reports the outcome
//   "send-empty"        sends an empty list of messages; reports the outcome
//   "send-format"       sends to "probe.sent" a cloudevents message with metadata
//                       k=v and content-type=text/plain, data "formatted"
//   anything else       reports "ok: <data>"
// Built with PROBE_CONFIGURE_FAIL, configure() returns an error; with
// PROBE_CONFIGURE_BAD, it asks for the invalid channel "a..b".
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messaging.h"

typedef wasi_messaging_messaging_types_message_t message_t;
typedef wasi_messaging_messaging_types_own_error_t own_error_t;
typedef wasi_messaging_messaging_types_own_client_t own_client_t;

static messaging_string_t str(const char* s) {
  messaging_string_t out;
  messaging_string_set(&out, s);
  return out;
}

// The text error.trace() returns now.
static void trace(char* out, size_t n) {
  messaging_string_t t;
  wasi_messaging_messaging_types_static_error_trace(&t);
  snprintf(out, n, "%.*s", (int)t.len, (const char*)t.ptr);
  messaging_string_free(&t);
}

static own_client_t connect_default(void) {
  messaging_string_t name = str("default");
  own_client_t client;
  own_error_t e;
  if (!wasi_messaging_messaging_types_static_client_connect(&name, &client, &e)) abort();
  return client;
}

static void send_text(const char* channel, const char* text, uint8_t format,
                      messaging_option_list_tuple2_string_string_t metadata) {
  message_t m = {{(uint8_t*)text, strlen(text)}, format, metadata};
  wasi_messaging_producer_list_message_t list = {&m, 1};
  messaging_string_t ch = str(channel);
  own_error_t e;
  if (!wasi_messaging_producer_send(connect_default(), &ch, &list, &e)) abort();
}

static void report(const char* text) {
  messaging_option_list_tuple2_string_string_t none = {false};
  send_text("probe.out", text, WASI_MESSAGING_MESSAGING_TYPES_FORMAT_SPEC_RAW, none);
}

// Reports "<what>: <trace>" after a call that failed with `e`.
static void report_error(const char* what, own_error_t e) {
  char text[1024], line[1200];
  trace(text, sizeof text);
  wasi_messaging_messaging_types_error_drop_own(e);
  snprintf(line, sizeof line, "%s: %s", what, text);
  report(line);
}

static const char* format_name(uint8_t f) {
  static const char* names[] = {"cloudevents", "http", "amqp", "mqtt", "kafka", "raw"};
  return f < 6 ? names[f] : "?";
}

static int starts_with(const char* s, const char* prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void report_pulled(message_t* ms, size_t n) {
  char line[512];
  snprintf(line, sizeof line, "pulled %zu: %.*s", n, (int)ms[0].data.len, (const char*)ms[0].data.ptr);
  report(line);
}

// The host frees what configure returns (post-return), so it is allocated.
bool exports_wasi_messaging_messaging_guest_configure(
    exports_wasi_messaging_messaging_guest_guest_configuration_t* ret, own_error_t* err) {
#if defined(PROBE_CONFIGURE_FAIL)
  messaging_string_t nope = str("no-such-broker");
  own_client_t c;
  if (wasi_messaging_messaging_types_static_client_connect(&nope, &c, err)) abort();
  return false;
#endif
  ret->channels.ptr = malloc(sizeof(messaging_string_t));
  ret->channels.len = 1;
#if defined(PROBE_CONFIGURE_BAD)
  messaging_string_dup(&ret->channels.ptr[0], "a..b");
#else
  messaging_string_dup(&ret->channels.ptr[0], "probe.in");
#endif
  ret->extensions.is_some = false;
  return true;
}

static int calls;  // per instance: a fresh instance starts at zero

static void complete_tagged(const char* tag_value) {
  messaging_tuple2_string_string_t tag = {str("ferry-delivery"), str(tag_value)};
  message_t fake = {{(uint8_t*)"x", 1}, WASI_MESSAGING_MESSAGING_TYPES_FORMAT_SPEC_RAW,
                    {true, {&tag, 1}}};
  own_error_t e;
  if (wasi_messaging_consumer_complete_message(&fake, &e)) report("completed by tag");
  else report_error("complete", e);
}

static bool handle(message_t* m, size_t batch, own_error_t* err) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "%.*s", (int)m->data.len, (const char*)m->data.ptr);
  own_error_t e;
  if (strcmp(cmd, "trap") == 0) __builtin_trap();
  if (strcmp(cmd, "loop") == 0) {
    volatile int spin = 1;
    while (spin) {
    }
  }
  if (strcmp(cmd, "fail") == 0) {
    messaging_string_t nope = str("nope");
    own_client_t c;
    if (wasi_messaging_messaging_types_static_client_connect(&nope, &c, err)) abort();
    return false;
  }
  if (strcmp(cmd, "complete") == 0) {
    if (!wasi_messaging_consumer_complete_message(m, &e)) return report_error("complete", e), true;
    report("completed");
  } else if (strcmp(cmd, "abandon") == 0) {
    if (!wasi_messaging_consumer_abandon_message(m, &e)) return report_error("abandon", e), true;
    report("abandoned");
  } else if (strcmp(cmd, "complete-twice") == 0 || strcmp(cmd, "abandon-complete") == 0) {
    bool first = cmd[0] == 'c' ? wasi_messaging_consumer_complete_message(m, &e)
                               : wasi_messaging_consumer_abandon_message(m, &e);
    if (!first) return report_error("first", e), true;
    if (wasi_messaging_consumer_complete_message(m, &e)) report("second succeeded");
    else report_error("second", e);
  } else if (strcmp(cmd, "forge") == 0) {
    complete_tagged("0123456789abcdef-1");
  } else if (strcmp(cmd, "untagged") == 0) {
    message_t bare = {{(uint8_t*)"x", 1}, WASI_MESSAGING_MESSAGING_TYPES_FORMAT_SPEC_RAW, {false}};
    if (wasi_messaging_consumer_complete_message(&bare, &e)) report("untagged complete succeeded");
    else report_error("complete", e);
  } else if (strcmp(cmd, "bad-channel") == 0) {
    messaging_string_t ch = str("a..b");
    wasi_messaging_messaging_types_guest_configuration_t gc = {{&ch, 1}, {false}};
    if (wasi_messaging_consumer_update_guest_configuration(&gc, &e)) report("accepted a..b");
    else report_error("update", e);
  } else if (strcmp(cmd, "bad-send") == 0) {
    message_t out = {{(uint8_t*)"x", 1}, WASI_MESSAGING_MESSAGING_TYPES_FORMAT_SPEC_RAW, {false}};
    wasi_messaging_producer_list_message_t list = {&out, 1};
    messaging_string_t ch = str("bad..channel");
    if (wasi_messaging_producer_send(connect_default(), &ch, &list, &e)) report("sent to bad..channel");
    else report_error("send", e);
  } else if (strcmp(cmd, "inspect") == 0) {
    char line[2048];
    size_t at = snprintf(line, sizeof line, "batch=%zu format=%s data=%.*s metadata=", batch,
                         format_name(m->format), (int)m->data.len, (const char*)m->data.ptr);
    if (m->metadata.is_some) {
      for (size_t i = 0; i < m->metadata.val.len; ++i) {
        messaging_tuple2_string_string_t* kv = &m->metadata.val.ptr[i];
        // The delivery tag differs every time; show that it is there.
        int is_tag = kv->f0.len == 14 && memcmp(kv->f0.ptr, "ferry-delivery", 14) == 0;
        at += snprintf(line + at, sizeof line - at, "%s%.*s=%.*s", i ? "," : "", (int)kv->f0.len,
                       (const char*)kv->f0.ptr, is_tag ? 3 : (int)kv->f1.len,
                       is_tag ? "tag" : (const char*)kv->f1.ptr);
      }
    } else {
      snprintf(line + at, sizeof line - at, "none");
    }
    report(line);
  } else if (starts_with(cmd, "subscribe ")) {
    messaging_string_t chans[8];
    size_t n = 0;
    chans[n++] = str("probe.in");
    for (char* tok = strtok(cmd + 10, ","); tok && n < 8; tok = strtok(NULL, ",")) chans[n++] = str(tok);
    wasi_messaging_messaging_types_guest_configuration_t gc = {{chans, n}, {false}};
    if (wasi_messaging_consumer_update_guest_configuration(&gc, &e)) report("subscribed");
    else report_error("update", e);
  } else if (starts_with(cmd, "pull ")) {
    char channel[128];
    unsigned ms = 0;
    sscanf(cmd + 5, "%127s %u", channel, &ms);
    messaging_string_t ch = str(channel);
    wasi_messaging_consumer_option_list_message_t got;
    if (!wasi_messaging_consumer_subscribe_try_receive(connect_default(), &ch, ms, &got, &e))
      return report_error("pull", e), true;
    if (!got.is_some) report("pulled none");
    else report_pulled(got.val.ptr, got.val.len);
  } else if (starts_with(cmd, "pull-block ")) {
    messaging_string_t ch = str(cmd + 11);
    wasi_messaging_consumer_list_message_t got;
    if (!wasi_messaging_consumer_subscribe_receive(connect_default(), &ch, &got, &e))
      return report_error("pull", e), true;
    report_pulled(got.ptr, got.len);
  } else if (strcmp(cmd, "count") == 0) {
    char line[64];
    snprintf(line, sizeof line, "calls=%d", calls);
    report(line);
  } else if (strcmp(cmd, "tag") == 0) {
    for (size_t i = 0; m->metadata.is_some && i < m->metadata.val.len; ++i) {
      messaging_tuple2_string_string_t* kv = &m->metadata.val.ptr[i];
      if (kv->f0.len == 14 && memcmp(kv->f0.ptr, "ferry-delivery", 14) == 0) {
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)kv->f1.len, (const char*)kv->f1.ptr);
        report(line);
      }
    }
  } else if (starts_with(cmd, "complete-tag ")) {
    complete_tagged(cmd + 13);
  } else if (strcmp(cmd, "send-empty") == 0) {
    wasi_messaging_producer_list_message_t none = {NULL, 0};
    messaging_string_t ch = str("probe.sent");
    if (wasi_messaging_producer_send(connect_default(), &ch, &none, &e)) report("sent nothing");
    else report_error("send", e);
  } else if (strcmp(cmd, "send-format") == 0) {
    messaging_tuple2_string_string_t md[2] = {{str("k"), str("v")},
                                              {str("content-type"), str("text/plain")}};
    messaging_option_list_tuple2_string_string_t some = {true, {md, 2}};
    send_text("probe.sent", "formatted", WASI_MESSAGING_MESSAGING_TYPES_FORMAT_SPEC_CLOUDEVENTS, some);
    report("sent");
  } else {
    char line[600];
    snprintf(line, sizeof line, "ok: %s", cmd);
    report(line);
  }
  return true;
}

// The handler owns the list it is given and frees it.
bool exports_wasi_messaging_messaging_guest_handler(
    exports_wasi_messaging_messaging_guest_list_message_t* ms, own_error_t* err) {
  ++calls;
  bool ok = true;
  for (size_t i = 0; i < ms->len && ok; ++i) ok = handle(&ms->ptr[i], ms->len, err);
  exports_wasi_messaging_messaging_guest_list_message_free(ms);
  return ok;
}
