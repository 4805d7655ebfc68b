// report.h: builds the JSON object a conformance guest publishes to
// `conf.report` to say what it observed. Plain C, no bindings: every guest,
// whatever the shape, includes it.
//
// A report is one object: {"tag": "<case tag>", "<key>": <value>, ...}.
// Strings are escaped for JSON; WIT strings are UTF-8, so non-ASCII bytes
// pass through unchanged and only control characters, '"' and '\' are
// escaped. Binary data is reported as lowercase hex.
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  char* buf;
  size_t len;
  size_t cap;
  bool need_comma;
} report_t;

static inline void rep_put(report_t* r, const char* s, size_t n) {
  if (r->len + n + 1 > r->cap) {
    size_t cap = r->cap ? r->cap : 256;
    while (r->len + n + 1 > cap) cap *= 2;
    r->buf = realloc(r->buf, cap);
    if (!r->buf) abort();
    r->cap = cap;
  }
  memcpy(r->buf + r->len, s, n);
  r->len += n;
  r->buf[r->len] = 0;
}

static inline void rep_lit(report_t* r, const char* s) { rep_put(r, s, strlen(s)); }

static inline void rep_json_str(report_t* r, const uint8_t* s, size_t n) {
  rep_lit(r, "\"");
  for (size_t i = 0; i < n; ++i) {
    uint8_t c = s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      rep_put(r, e, 2);
    } else if (c < 0x20) {
      char e[8];
      snprintf(e, sizeof e, "\\u%04x", c);
      rep_lit(r, e);
    } else {
      rep_put(r, (const char*)&c, 1);
    }
  }
  rep_lit(r, "\"");
}

static inline void rep_key(report_t* r, const char* key) {
  if (r->need_comma) rep_lit(r, ",");
  r->need_comma = true;
  rep_json_str(r, (const uint8_t*)key, strlen(key));
  rep_lit(r, ":");
}

// Starts a report for the case `tag` (n bytes).
static inline void rep_begin(report_t* r, const uint8_t* tag, size_t n) {
  r->len = 0;
  r->need_comma = false;
  rep_lit(r, "{");
  rep_key(r, "tag");
  rep_json_str(r, tag, n);
}

static inline void rep_str(report_t* r, const char* key, const uint8_t* s, size_t n) {
  rep_key(r, key);
  rep_json_str(r, s, n);
}

static inline void rep_cstr(report_t* r, const char* key, const char* s) {
  rep_str(r, key, (const uint8_t*)s, strlen(s));
}

static inline void rep_null(report_t* r, const char* key) {
  rep_key(r, key);
  rep_lit(r, "null");
}

static inline void rep_int(report_t* r, const char* key, long long v) {
  char n[32];
  snprintf(n, sizeof n, "%lld", v);
  rep_key(r, key);
  rep_lit(r, n);
}

static inline void rep_bool(report_t* r, const char* key, bool v) {
  rep_key(r, key);
  rep_lit(r, v ? "true" : "false");
}

static inline void rep_hex(report_t* r, const char* key, const uint8_t* s, size_t n) {
  static const char digits[] = "0123456789abcdef";
  rep_key(r, key);
  rep_lit(r, "\"");
  for (size_t i = 0; i < n; ++i) {
    char h[2] = {digits[s[i] >> 4], digits[s[i] & 15]};
    rep_put(r, h, 2);
  }
  rep_lit(r, "\"");
}

// A list of [key, value] pairs: rep_pairs_open, rep_pair for each, rep_pairs_close.
static inline void rep_pairs_open(report_t* r, const char* key) {
  rep_key(r, key);
  rep_lit(r, "[");
}
static inline void rep_pair(report_t* r, size_t index, const uint8_t* k, size_t kn, const uint8_t* v, size_t vn) {
  if (index) rep_lit(r, ",");
  rep_lit(r, "[");
  rep_json_str(r, k, kn);
  rep_lit(r, ",");
  rep_json_str(r, v, vn);
  rep_lit(r, "]");
}
static inline void rep_pairs_close(report_t* r) { rep_lit(r, "]"); }

static inline void rep_end(report_t* r) { rep_lit(r, "}"); }

// Milliseconds on the monotonic clock (WASI clocks).
static inline long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// A command is "<tag> <verb> [args]"; splits it in place. `text` must be
// NUL-terminated; returns false when there is no verb.
static inline bool parse_command(char* text, char** tag, char** verb, char** args) {
  *tag = text;
  char* sp = strchr(text, ' ');
  if (!sp) return false;
  *sp = 0;
  *verb = sp + 1;
  sp = strchr(*verb, ' ');
  if (sp) {
    *sp = 0;
    *args = sp + 1;
  } else {
    *args = *verb + strlen(*verb);
  }
  return true;
}
