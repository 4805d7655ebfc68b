// Ferry's one error type: an `Error` with a named code and a one-line
// message, and `Result<T>` / `Status` returned from every fallible call.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ferry {

enum class ErrorCode {
  kInvalidArgument,   // the caller passed something malformed
  kNotFound,          // a name, file or delivery that does not exist
  kTimeout,           // a deadline passed
  kConnection,        // the broker cannot be reached or the link broke
  kPermissionDenied,  // not granted by the configuration
  kResourceExhausted, // a limit was hit (size, memory, queue)
  kFailedPrecondition,// the operation does not fit the current state
  kCancelled,         // the host is shutting down
  kUnsupported,       // the broker or interface lacks the feature
  kGuest,             // the guest trapped or returned an error
  kInternal,          // a bug in Ferry or a library it uses
};

std::string_view ErrorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Error InvalidArgument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
  static Error NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
  static Error Timeout(std::string m) { return {ErrorCode::kTimeout, std::move(m)}; }
  static Error Connection(std::string m) { return {ErrorCode::kConnection, std::move(m)}; }
  static Error PermissionDenied(std::string m) { return {ErrorCode::kPermissionDenied, std::move(m)}; }
  static Error ResourceExhausted(std::string m) { return {ErrorCode::kResourceExhausted, std::move(m)}; }
  static Error FailedPrecondition(std::string m) { return {ErrorCode::kFailedPrecondition, std::move(m)}; }
  static Error Cancelled(std::string m) { return {ErrorCode::kCancelled, std::move(m)}; }
  static Error Unsupported(std::string m) { return {ErrorCode::kUnsupported, std::move(m)}; }
  static Error Guest(std::string m) { return {ErrorCode::kGuest, std::move(m)}; }
  static Error Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with where it happened: "loading x.wasm: ...".
  Error WithContext(std::string_view context) const& {
    return {code_, std::string(context) + ": " + message_};
  }

  // "timeout: no reply within 100 ms"
  std::string ToString() const;

 private:
  ErrorCode code_;
  std::string message_;
};

// Holds a T or an Error. Cheap to move; `value()` asserts success.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Success or an Error, for calls with nothing to return.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  static Status Ok() { return {}; }
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { assert(!ok()); return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace ferry

// Returns early from the enclosing function when `expr` (a Status) failed.
#define FERRY_RETURN_IF_ERROR(expr)               \
  do {                                            \
    if (auto ferry_status_ = (expr); !ferry_status_.ok()) \
      return ferry_status_.error();               \
  } while (0)
