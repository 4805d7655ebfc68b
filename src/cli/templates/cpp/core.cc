// @NAME@: a wasi:messaging component in C++ (world messaging-core).
// Each message on `@NAME@.in` goes on to `@NAME@.out` with its text
// upper-cased and a `handled-by: @NAME@` metadata entry.
#include <cctype>
#include <string>

extern "C" {
#include "messaging_core.h"
}

namespace {

using Error = wasi_messaging_types_error_t;

messaging_core_string_t Str(const std::string& s) {
  messaging_core_string_t out;
  messaging_core_string_dup_n(&out, s.data(), s.size());
  return out;
}

bool Fail(Error* err, const std::string& text) {
  err->tag = WASI_MESSAGING_TYPES_ERROR_OTHER;
  err->val.other = Str(text);
  return false;
}

// Owns a client handle and drops it when it goes out of scope.
class Client {
 public:
  explicit Client(wasi_messaging_types_own_client_t h) : handle_(h) {}
  ~Client() { wasi_messaging_types_client_drop_own(handle_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  wasi_messaging_types_borrow_client_t borrow() const {
    return wasi_messaging_types_borrow_client(handle_);
  }

 private:
  wasi_messaging_types_own_client_t handle_;
};

}  // namespace

extern "C" bool exports_wasi_messaging_incoming_handler_handle(
    exports_wasi_messaging_incoming_handler_own_message_t message, Error* err) {
  auto m = wasi_messaging_types_borrow_message(message);

  // Edit the message received, then send that same message on.
  messaging_core_list_u8_t data;
  wasi_messaging_types_method_message_data(m, &data);
  for (size_t i = 0; i < data.len; ++i) data.ptr[i] = std::toupper(data.ptr[i]);
  wasi_messaging_types_method_message_set_data(m, &data);
  messaging_core_list_u8_free(&data);
  auto key = Str("handled-by"), value = Str("@NAME@");
  wasi_messaging_types_method_message_add_metadata(m, &key, &value);
  messaging_core_string_free(&key);
  messaging_core_string_free(&value);

  // "default" is the broker the host runs this component on.
  auto broker = Str("default");
  wasi_messaging_types_own_client_t handle;
  bool connected = wasi_messaging_types_static_client_connect(&broker, &handle, err);
  messaging_core_string_free(&broker);
  if (!connected) {  // *err holds the host's reason, which becomes ours
    wasi_messaging_types_message_drop_own(message);
    return false;
  }
  Client client(handle);
  auto topic = Str("@NAME@.out");
  Error send_err;
  bool sent = wasi_messaging_producer_send(client.borrow(), &topic, message, &send_err);
  messaging_core_string_free(&topic);
  if (!sent) {
    wasi_messaging_types_error_free(&send_err);
    return Fail(err, "@NAME@: sending to @NAME@.out failed");
  }
  return true;  // false (with *err set) is a failed delivery: retried
}
