// v010: the wasi:messaging 0.1.0 interfaces (messaging-types, producer,
// consumer, messaging-guest). The same source builds for 0.1.0 and for the
// 2024 0.2.0-draft, whose interfaces are the same; CONF_PREFIX names its
// channels (conf.v010, or conf.v2024 when built with CONF_V2024). Clients are connected by the name
// "default"; reports go to "conf.report" as JSON.
//
// configure() returns [P.in] (with CONF_ECHO: [P.echo], and every message's
// data is sent back unchanged to P.echo.out).
// Commands on P.in ("<tag> <verb> [arg]"), each answered by a report:
//   ok | fail | trap   reports "seen", then returns ok / an error / traps
//   inspect            the delivered record: batch size, format, metadata, data
//   batch              reports the size of the list the handler got
//   complete | abandon complete-message / abandon-message: the outcome
//   pull-none <ms>     subscribe-try-receive(P.pull.<tag>, ms): outcome, elapsed
//   pull <ms>          the same, while the harness publishes to P.pull.<tag>
//   pull-block         subscribe-receive(P.pull.<tag>)
//   update             update-guest-configuration([P.in, P.extra.<tag>])
//   trace              connect("conformance-no-such-client"), then error.trace()
//   send-list          sends [<tag>#0, <tag>#1, <tag>#2] in one send to P.sent
//   hop <variant>      sends "<tag> hop-seen" to P.in with the variant's
//                      metadata (unicode, empty, hundred, dup) or format
//                      (format: cloudevents); hop-seen reports the record
// clock_gettime under -std=c11.
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messaging.h"
#include "../report.h"

#ifdef CONF_V2024
#define CONF_PREFIX "conf.v2024"
#else
#define CONF_PREFIX "conf.v010"
#endif

typedef wasi_messaging_messaging_types_message_t message_t;
typedef wasi_messaging_messaging_types_own_error_t own_error_t;
typedef wasi_messaging_messaging_types_own_client_t own_client_t;
typedef messaging_tuple2_string_string_t kv_t;

static messaging_string_t s_(const char* s) {
  messaging_string_t out;
  messaging_string_set(&out, s);
  return out;
}

static bool connect_default(own_client_t* c, own_error_t* e) {
  messaging_string_t name = s_("default");
  return wasi_messaging_messaging_types_static_client_connect(&name, c, e);
}

static void rep_trace(report_t* r, const char* key, own_error_t e) {
  messaging_string_t t;
  wasi_messaging_messaging_types_static_error_trace(&t);
  rep_str(r, key, t.ptr, t.len);
  messaging_string_free(&t);
  wasi_messaging_messaging_types_error_drop_own(e);
}

// Sends `n` records to `channel` in one call; false (and a trace under
// "<key>") when connecting or sending fails.
static bool send_records(const char* channel, message_t* ms, size_t n, report_t* r, const char* key) {
  own_client_t c;
  own_error_t e;
  if (!connect_default(&c, &e)) {
    if (r) rep_trace(r, key, e);
    else wasi_messaging_messaging_types_error_drop_own(e);
    return false;
  }
  wasi_messaging_producer_list_message_t list = {ms, n};
  messaging_string_t ch = s_(channel);
  if (!wasi_messaging_producer_send(c, &ch, &list, &e)) {
    if (r) rep_trace(r, key, e);
    else wasi_messaging_messaging_types_error_drop_own(e);
    return false;
  }
  return true;
}

static void rep_send(report_t* r) {
  rep_end(r);
  message_t m = {{(uint8_t*)r->buf, r->len}, WASI_MESSAGING_MESSAGING_TYPES_FORMAT_SPEC_RAW, {false}};
  if (!send_records("conf.report", &m, 1, NULL, NULL)) __builtin_trap();
  free(r->buf);
  r->buf = NULL;
  r->cap = r->len = 0;
}

static const char* format_name(uint8_t f) {
  static const char* names[] = {"cloudevents", "http", "amqp", "mqtt", "kafka", "raw"};
  return f < 6 ? names[f] : "?";
}

static void rep_record(report_t* r, const message_t* m) {
  rep_cstr(r, "format", format_name(m->format));
  if (m->metadata.is_some) {
    rep_pairs_open(r, "metadata");
    for (size_t i = 0; i < m->metadata.val.len; ++i) {
      const kv_t* kv = &m->metadata.val.ptr[i];
      rep_pair(r, i, kv->f0.ptr, kv->f0.len, kv->f1.ptr, kv->f1.len);
    }
    rep_pairs_close(r);
  } else {
    rep_null(r, "metadata");
  }
  rep_int(r, "data_len", (long long)m->data.len);
}

static void pair(kv_t* p, const char* k, const char* v) {
  p->f0 = s_(k);
  p->f1 = s_(v);
}

static void hop(report_t* r, const char* tag, const char* variant) {
  static kv_t ps[100];
  static char keys[100][16], values[100][16];
  char body[256];
  int len = snprintf(body, sizeof body, "%s hop-seen", tag);
  message_t m = {{(uint8_t*)body, (size_t)len}, WASI_MESSAGING_MESSAGING_TYPES_FORMAT_SPEC_RAW, {false}};
  size_t n = 0;
  if (strcmp(variant, "unicode") == 0) {
    pair(&ps[n++], "cl\xc3\xa9-\xc3\xbc", "v\xc3\xa4lue \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac");
    pair(&ps[n++], "emoji-\xf0\x9f\x9a\x80", "\xf0\x9f\x9a\x80");
  } else if (strcmp(variant, "empty") == 0) {
    pair(&ps[n++], "empty", "");
    pair(&ps[n++], "full", "x");
  } else if (strcmp(variant, "hundred") == 0) {
    for (int i = 0; i < 100; ++i) {
      snprintf(keys[i], sizeof keys[i], "key-%03d", i);
      snprintf(values[i], sizeof values[i], "value-%03d", i);
      pair(&ps[n++], keys[i], values[i]);
    }
  } else if (strcmp(variant, "dup") == 0) {
    pair(&ps[n++], "k", "1");
    pair(&ps[n++], "k", "2");
  } else if (strcmp(variant, "format") == 0) {
    m.format = WASI_MESSAGING_MESSAGING_TYPES_FORMAT_SPEC_CLOUDEVENTS;
  }
  if (n) {
    m.metadata.is_some = true;
    m.metadata.val.ptr = ps;
    m.metadata.val.len = n;
  }
  rep_cstr(r, "variant", variant);
  rep_bool(r, "sent", send_records(CONF_PREFIX ".in", &m, 1, r, "send_trace"));
}

// Handles one record of a batch of `batch`; false (with *err set) fails the call.
__attribute__((unused)) static bool handle(message_t* m, size_t batch, own_error_t* err) {
  char* text = malloc(m->data.len + 1);
  memcpy(text, m->data.ptr, m->data.len);
  text[m->data.len] = 0;
  char *tag, *verb, *arg;
  if (!parse_command(text, &tag, &verb, &arg)) {
    free(text);
    return true;
  }
  report_t r = {0};
  rep_begin(&r, (const uint8_t*)tag, strlen(tag));
  rep_cstr(&r, "verb", verb);
  bool ok = true;
  own_client_t c;
  own_error_t e;
  char channel[256];
  snprintf(channel, sizeof channel, CONF_PREFIX ".pull.%s", tag);
  if (strcmp(verb, "ok") == 0 || strcmp(verb, "fail") == 0 || strcmp(verb, "trap") == 0) {
    rep_send(&r);
    if (verb[0] == 't') __builtin_trap();
    if (verb[0] == 'f') {
      messaging_string_t name = s_("conformance-no-such-client");
      if (wasi_messaging_messaging_types_static_client_connect(&name, &c, err)) abort();
      ok = false;
    }
    free(text);
    return ok;
  } else if (strcmp(verb, "inspect") == 0 || strcmp(verb, "hop-seen") == 0) {
    rep_int(&r, "batch", (long long)batch);
    rep_record(&r, m);
  } else if (strcmp(verb, "batch") == 0) {
    rep_int(&r, "batch", (long long)batch);
  } else if (strcmp(verb, "complete") == 0 || strcmp(verb, "abandon") == 0) {
    bool done = verb[0] == 'c' ? wasi_messaging_consumer_complete_message(m, &e)
                               : wasi_messaging_consumer_abandon_message(m, &e);
    rep_bool(&r, "ok", done);
    if (!done) rep_trace(&r, "trace", e);
  } else if (strcmp(verb, "pull-none") == 0 || strcmp(verb, "pull") == 0) {
    unsigned ms = (unsigned)atol(arg);
    if (!connect_default(&c, &e)) {
      rep_trace(&r, "connect_trace", e);
    } else {
      messaging_string_t ch = s_(channel);
      wasi_messaging_consumer_option_list_message_t got;
      long long start = now_ms();
      bool done = wasi_messaging_consumer_subscribe_try_receive(c, &ch, ms, &got, &e);
      rep_int(&r, "elapsed_ms", now_ms() - start);
      rep_bool(&r, "ok", done);
      if (!done) {
        rep_trace(&r, "trace", e);
      } else {
        rep_bool(&r, "some", got.is_some);
        if (got.is_some) {
          rep_int(&r, "count", (long long)got.val.len);
          if (got.val.len) rep_str(&r, "first_data", got.val.ptr[0].data.ptr, got.val.ptr[0].data.len);
          wasi_messaging_consumer_option_list_message_free(&got);
        }
      }
    }
  } else if (strcmp(verb, "pull-block") == 0) {
    if (!connect_default(&c, &e)) {
      rep_trace(&r, "connect_trace", e);
    } else {
      messaging_string_t ch = s_(channel);
      wasi_messaging_consumer_list_message_t got;
      bool done = wasi_messaging_consumer_subscribe_receive(c, &ch, &got, &e);
      rep_bool(&r, "ok", done);
      if (!done) {
        rep_trace(&r, "trace", e);
      } else {
        rep_int(&r, "count", (long long)got.len);
        if (got.len) rep_str(&r, "first_data", got.ptr[0].data.ptr, got.ptr[0].data.len);
        wasi_messaging_consumer_list_message_free(&got);
      }
    }
  } else if (strcmp(verb, "update") == 0) {
    char extra[256];
    snprintf(extra, sizeof extra, CONF_PREFIX ".extra.%s", tag);
    messaging_string_t chans[2] = {s_(CONF_PREFIX ".in"), s_(extra)};
    wasi_messaging_messaging_types_guest_configuration_t gc = {{chans, 2}, {false}};
    bool done = wasi_messaging_consumer_update_guest_configuration(&gc, &e);
    rep_bool(&r, "ok", done);
    if (!done) rep_trace(&r, "trace", e);
  } else if (strcmp(verb, "trace") == 0) {
    messaging_string_t name = s_("conformance-no-such-client");
    bool connected = wasi_messaging_messaging_types_static_client_connect(&name, &c, &e);
    rep_bool(&r, "connect_ok", connected);
    if (!connected) rep_trace(&r, "trace", e);
    else wasi_messaging_messaging_types_client_drop_own(c);
  } else if (strcmp(verb, "send-list") == 0) {
    char bodies[3][128];
    message_t ms[3];
    for (int i = 0; i < 3; ++i) {
      int len = snprintf(bodies[i], sizeof bodies[i], "%s#%d", tag, i);
      ms[i] = (message_t){{(uint8_t*)bodies[i], (size_t)len}, WASI_MESSAGING_MESSAGING_TYPES_FORMAT_SPEC_RAW, {false}};
    }
    rep_bool(&r, "ok", send_records(CONF_PREFIX ".sent", ms, 3, &r, "trace"));
  } else if (strcmp(verb, "hop") == 0) {
    hop(&r, tag, arg);
  } else {
    rep_cstr(&r, "unknown_verb", verb);
  }
  rep_send(&r);
  free(text);
  return ok;
}

// The host frees what configure returns (post-return), so it is allocated.
bool exports_wasi_messaging_messaging_guest_configure(
    exports_wasi_messaging_messaging_guest_guest_configuration_t* ret, own_error_t* err) {
  ret->channels.ptr = malloc(sizeof(messaging_string_t));
  ret->channels.len = 1;
#ifdef CONF_ECHO
  messaging_string_dup(&ret->channels.ptr[0], CONF_PREFIX ".echo");
#else
  messaging_string_dup(&ret->channels.ptr[0], CONF_PREFIX ".in");
#endif
  ret->extensions.is_some = false;
  return true;
}

bool exports_wasi_messaging_messaging_guest_handler(
    exports_wasi_messaging_messaging_guest_list_message_t* ms, own_error_t* err) {
  bool ok = true;
#ifdef CONF_ECHO
  for (size_t i = 0; i < ms->len && ok; ++i) {
    message_t out = {ms->ptr[i].data, WASI_MESSAGING_MESSAGING_TYPES_FORMAT_SPEC_RAW, {false}};
    ok = send_records(CONF_PREFIX ".echo.out", &out, 1, NULL, NULL);
    if (!ok) {
      messaging_string_t name = s_("conformance-no-such-client");
      own_client_t c;
      if (wasi_messaging_messaging_types_static_client_connect(&name, &c, err)) abort();
    }
  }
#else
  for (size_t i = 0; i < ms->len && ok; ++i) ok = handle(&ms->ptr[i], ms->len, err);
#endif
  exports_wasi_messaging_messaging_guest_list_message_free(ms);
  return ok;
}
