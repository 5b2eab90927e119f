// Names for status codes and the printable form of a Status.
#include "inlinesec/common/status.h"

#include <cstdio>

namespace inlinesec {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "kOk";
    case Code::kInvalidArgument:
      return "kInvalidArgument";
    case Code::kOutOfRange:
      return "kOutOfRange";
    case Code::kNotFound:
      return "kNotFound";
    case Code::kAlreadyExists:
      return "kAlreadyExists";
    case Code::kResourceExhausted:
      return "kResourceExhausted";
    case Code::kUnavailable:
      return "kUnavailable";
    case Code::kDeadlineExceeded:
      return "kDeadlineExceeded";
    case Code::kFailedPrecondition:
      return "kFailedPrecondition";
    case Code::kUnimplemented:
      return "kUnimplemented";
    case Code::kDeviceError:
      return "kDeviceError";
    case Code::kDataLoss:
      return "kDataLoss";
    case Code::kParseError:
      return "kParseError";
    case Code::kAuthFailed:
      return "kAuthFailed";
    case Code::kInternal:
      return "kInternal";
  }
  return "kUnknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s(CodeName(code_));
  if (device_status_ != 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " [device 0x%x]", device_status_);
    s += buf;
  }
  if (!message_.empty()) s += ": " + message_;
  return s;
}

}  // namespace inlinesec
