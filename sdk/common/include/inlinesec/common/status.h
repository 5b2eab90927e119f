// Status and Result<T>: how every fallible call in inlinesec reports failure
// without exceptions. A Status is a code plus a short message that never holds
// secrets; the optional device word carries a completion or mailbox status
// read back from the engine, so callers can tell "the card said no" from "we
// never reached the card".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "inlinesec/common/check.h"

namespace inlinesec {

enum class Code : std::uint8_t {
  kOk = 0,
  kInvalidArgument,     // caller passed something malformed
  kOutOfRange,          // an index, length or address outside its bounds
  kNotFound,            // no such SA, connection, device...
  kAlreadyExists,       // the slot or name is taken
  kResourceExhausted,   // table, ring or pool is full
  kUnavailable,         // device absent, not ready, or in reset
  kDeadlineExceeded,    // a bounded wait ran out
  kFailedPrecondition,  // the object is in the wrong state for this call
  kUnimplemented,       // capability not present
  kDeviceError,         // the engine answered with an error status
  kDataLoss,            // corrupt data from the device or a file
  kParseError,          // untrusted bytes did not parse
  kAuthFailed,          // integrity check failed
  kInternal,            // a library we call failed unexpectedly
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  // User-provided, so that Status() / Status::Ok() is not zero-filled
  // (GCC emits a `rep stos` for it) before the members are initialised.
  Status() {}
  Status(Code code, std::string message, std::uint32_t device_status = 0)
      : code_(code), message_(std::move(message)), device_status_(device_status) {}
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::uint32_t device_status() const { return device_status_; }
  // "kNotFound: no SA at index 7" -- for logs and error output.
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::uint32_t device_status_ = 0;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    INLINESEC_CHECK(!std::get<Status>(v_).ok());
  }
  Result(Code code, std::string message) : v_(Status(code, std::move(message))) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & {
    INLINESEC_CHECK(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    INLINESEC_CHECK(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    INLINESEC_CHECK(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace inlinesec

// Propagates a non-OK Status from an expression that yields Status.
#define INLINESEC_RETURN_IF_ERROR(expr) \
  do {                                  \
    ::inlinesec::Status _st = (expr);   \
    if (!_st.ok()) [[unlikely]]         \
      return _st;                       \
  } while (0)
