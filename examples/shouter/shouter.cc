// shouter: the same service as greeter, written in C++: answers each request
// with "HELLO, <REQUEST DATA>".
#include <cctype>
#include <string>

extern "C" {
#include "messaging_request_reply.h"
}

namespace {

// Owns a message handle until it is handed on.
class OwnedMessage {
 public:
  explicit OwnedMessage(wasi_messaging_types_own_message_t h) : handle_(h) {}
  ~OwnedMessage() {
    if (handle_.__handle != 0) wasi_messaging_types_message_drop_own(handle_);
  }
  OwnedMessage(const OwnedMessage&) = delete;
  OwnedMessage& operator=(const OwnedMessage&) = delete;

  wasi_messaging_types_borrow_message_t borrow() const {
    return wasi_messaging_types_borrow_message(handle_);
  }
  wasi_messaging_types_own_message_t release() {
    auto h = handle_;
    handle_.__handle = 0;
    return h;
  }

 private:
  wasi_messaging_types_own_message_t handle_;
};

std::string Data(wasi_messaging_types_borrow_message_t m) {
  messaging_request_reply_list_u8_t data;
  wasi_messaging_types_method_message_data(m, &data);
  std::string s(reinterpret_cast<const char*>(data.ptr), data.len);
  messaging_request_reply_list_u8_free(&data);
  return s;
}

}  // namespace

extern "C" bool exports_wasi_messaging_incoming_handler_handle(
    exports_wasi_messaging_incoming_handler_own_message_t message,
    exports_wasi_messaging_incoming_handler_error_t* err) {
  OwnedMessage request(message);
  std::string body = "HELLO, " + Data(request.borrow());
  for (char& c : body) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));

  messaging_request_reply_list_u8_t bytes{reinterpret_cast<uint8_t*>(body.data()), body.size()};
  OwnedMessage reply(wasi_messaging_types_constructor_message(&bytes));
  return wasi_messaging_request_reply_reply(request.borrow(), reply.release(), err);
}
