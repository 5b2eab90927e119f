// VICI client: framing, message codec with bounded parsing, and request flow.
#include "vici.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "inlinesec/common/byte_reader.h"

namespace inlinesec::testing {
namespace {

enum : std::uint8_t {
  kCmdRequest = 0,
  kCmdResponse = 1,
  kCmdUnknown = 2,
  kEventRegister = 3,
  kEventUnregister = 4,
  kEventConfirm = 5,
  kEventUnknown = 6,
  kEvent = 7,
};
enum : std::uint8_t {
  kSectionStart = 1,
  kSectionEnd = 2,
  kKeyValue = 3,
  kListStart = 4,
  kListItem = 5,
  kListEnd = 6,
};
constexpr std::uint32_t kMaxSegment = 512 * 1024;
constexpr int kMaxDepth = 32;

bool IsNamed(std::uint8_t type) {
  return type == kCmdRequest || type == kEventRegister || type == kEventUnregister ||
         type == kEvent;
}

bool ReadName(ByteReader& r, std::string& out) {
  std::uint8_t len = 0;
  std::span<const std::uint8_t> b;
  if (!r.U8(len) || !r.Bytes(len, b)) return false;
  out.assign(b.begin(), b.end());
  return true;
}

bool ReadValue(ByteReader& r, std::string& out) {
  std::uint16_t len = 0;
  std::span<const std::uint8_t> b;
  if (!r.U16(len) || !r.Bytes(len, b)) return false;
  out.assign(b.begin(), b.end());
  return true;
}

bool ParseSection(ByteReader& r, ViciSection& sec, int depth, bool top) {
  if (depth > kMaxDepth) return false;
  while (!r.empty()) {
    std::uint8_t type = 0;
    if (!r.U8(type)) return false;
    switch (type) {
      case kSectionStart: {
        std::string name;
        if (!ReadName(r, name)) return false;
        ViciSection child;
        if (!ParseSection(r, child, depth + 1, false)) return false;
        sec.sections.emplace_back(std::move(name), std::move(child));
        break;
      }
      case kSectionEnd:
        return !top;
      case kKeyValue: {
        std::string k, v;
        if (!ReadName(r, k) || !ReadValue(r, v)) return false;
        sec.values.emplace_back(std::move(k), std::move(v));
        break;
      }
      case kListStart: {
        std::string name;
        if (!ReadName(r, name)) return false;
        std::vector<std::string> items;
        while (true) {
          std::uint8_t t = 0;
          if (!r.U8(t)) return false;
          if (t == kListEnd) break;
          if (t != kListItem) return false;
          std::string v;
          if (!ReadValue(r, v)) return false;
          items.push_back(std::move(v));
        }
        sec.lists.emplace_back(std::move(name), std::move(items));
        break;
      }
      default:
        return false;
    }
  }
  return top;  // a nested section must end with kSectionEnd
}

}  // namespace

std::string ViciSection::Get(const std::string& key) const {
  for (const auto& [k, v] : values)
    if (k == key) return v;
  return "";
}

const ViciSection* ViciSection::Section(const std::string& name) const {
  for (const auto& [k, s] : sections)
    if (k == name) return &s;
  return nullptr;
}

const std::vector<std::string>* ViciSection::List(const std::string& name) const {
  for (const auto& [k, l] : lists)
    if (k == name) return &l;
  return nullptr;
}

const ViciSection* ViciSection::Find(const std::string& name) const {
  for (const auto& [k, s] : sections) {
    if (k == name) return &s;
    if (const ViciSection* f = s.Find(name)) return f;
  }
  return nullptr;
}

void ViciWriter::Name(const std::string& name) {
  out_.push_back(static_cast<std::uint8_t>(name.size()));
  out_.insert(out_.end(), name.begin(), name.end());
}

ViciWriter& ViciWriter::Begin(const std::string& name) {
  out_.push_back(kSectionStart);
  Name(name);
  return *this;
}

ViciWriter& ViciWriter::End() {
  out_.push_back(kSectionEnd);
  return *this;
}

ViciWriter& ViciWriter::Kv(const std::string& key, const std::string& value) {
  out_.push_back(kKeyValue);
  Name(key);
  out_.push_back(static_cast<std::uint8_t>(value.size() >> 8));
  out_.push_back(static_cast<std::uint8_t>(value.size()));
  out_.insert(out_.end(), value.begin(), value.end());
  return *this;
}

ViciWriter& ViciWriter::List(const std::string& key, const std::vector<std::string>& items) {
  out_.push_back(kListStart);
  Name(key);
  for (const auto& v : items) {
    out_.push_back(kListItem);
    out_.push_back(static_cast<std::uint8_t>(v.size() >> 8));
    out_.push_back(static_cast<std::uint8_t>(v.size()));
    out_.insert(out_.end(), v.begin(), v.end());
  }
  out_.push_back(kListEnd);
  return *this;
}

Result<ViciSection> ParseViciMessage(const std::vector<std::uint8_t>& body) {
  ByteReader r(body);
  ViciSection top;
  if (!ParseSection(r, top, 0, true)) {
    return Status(Code::kParseError, "malformed vici message");
  }
  return top;
}

ViciClient::~ViciClient() {
  if (fd_ >= 0) close(fd_);
}

ViciClient::ViciClient(ViciClient&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }

ViciClient& ViciClient::operator=(ViciClient&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Result<ViciClient> ViciClient::Connect(const std::string& socket_path,
                                       std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return Status(Code::kInvalidArgument, "vici socket path too long: " + socket_path);
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last_error;
  while (true) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status(Code::kInternal, "socket: " + std::string(std::strerror(errno)));
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
      ViciClient c;
      c.fd_ = fd;
      return c;
    }
    last_error = std::strerror(errno);
    close(fd);
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status(Code::kDeadlineExceeded,
                "cannot connect to vici at " + socket_path + ": " + last_error);
}

Status ViciClient::Send(std::uint8_t type, const std::string& name,
                        const std::vector<std::uint8_t>& body) {
  const bool named = IsNamed(type);
  const std::size_t len = 1 + (named ? 1 + name.size() : 0) + body.size();
  std::vector<std::uint8_t> pkt;
  pkt.reserve(4 + len);
  for (int shift = 24; shift >= 0; shift -= 8) {
    pkt.push_back(static_cast<std::uint8_t>(len >> shift));
  }
  pkt.push_back(type);
  if (named) {
    pkt.push_back(static_cast<std::uint8_t>(name.size()));
    pkt.insert(pkt.end(), name.begin(), name.end());
  }
  pkt.insert(pkt.end(), body.begin(), body.end());
  std::size_t off = 0;
  while (off < pkt.size()) {
    const ssize_t n = write(fd_, pkt.data() + off, pkt.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status(Code::kUnavailable, "vici write: " + std::string(std::strerror(errno)));
    }
    off += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status ViciClient::Recv(std::uint8_t& type, std::string& name, std::vector<std::uint8_t>& body,
                        std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto read_exact = [&](std::uint8_t* p, std::size_t n) -> Status {
    std::size_t got = 0;
    while (got < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Status(Code::kDeadlineExceeded, "vici read timed out");
      pollfd pfd{fd_, POLLIN, 0};
      const int pr = poll(&pfd, 1, static_cast<int>(left.count()));
      if (pr < 0 && errno == EINTR) continue;
      if (pr <= 0) return Status(Code::kDeadlineExceeded, "vici read timed out");
      const ssize_t r = read(fd_, p + got, n - got);
      if (r == 0) return Status(Code::kUnavailable, "vici connection closed");
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status(Code::kUnavailable, "vici read: " + std::string(std::strerror(errno)));
      }
      got += static_cast<std::size_t>(r);
    }
    return Status::Ok();
  };
  std::uint8_t hdr[4];
  INLINESEC_RETURN_IF_ERROR(read_exact(hdr, 4));
  const std::uint32_t len = LoadBe32(hdr);
  if (len == 0 || len > kMaxSegment) return Status(Code::kParseError, "vici segment length");
  std::vector<std::uint8_t> seg(len);
  INLINESEC_RETURN_IF_ERROR(read_exact(seg.data(), len));
  ByteReader r(seg);
  if (!r.U8(type)) return Status(Code::kParseError, "vici packet type");
  name.clear();
  if (IsNamed(type) && !ReadName(r, name)) return Status(Code::kParseError, "vici packet name");
  body.assign(r.rest().begin(), r.rest().end());
  return Status::Ok();
}

Status ViciClient::Register(bool on, const std::string& event, std::chrono::milliseconds timeout) {
  INLINESEC_RETURN_IF_ERROR(Send(on ? kEventRegister : kEventUnregister, event, {}));
  while (true) {
    std::uint8_t type = 0;
    std::string name;
    std::vector<std::uint8_t> body;
    INLINESEC_RETURN_IF_ERROR(Recv(type, name, body, timeout));
    if (type == kEventConfirm) return Status::Ok();
    if (type == kEventUnknown) return Status(Code::kNotFound, "vici: unknown event " + event);
    // Stray events of an earlier registration are dropped.
  }
}

Result<ViciSection> ViciClient::Request(const std::string& command, const ViciWriter& body,
                                        std::chrono::milliseconds timeout,
                                        const std::string& collect,
                                        std::vector<ViciSection>* events) {
  if (fd_ < 0) return Status(Code::kFailedPrecondition, "vici not connected");
  if (!collect.empty()) INLINESEC_RETURN_IF_ERROR(Register(true, collect, timeout));
  INLINESEC_RETURN_IF_ERROR(Send(kCmdRequest, command, body.bytes()));
  Result<ViciSection> result = Status(Code::kInternal, "no response");
  while (true) {
    std::uint8_t type = 0;
    std::string name;
    std::vector<std::uint8_t> msg;
    Status st = Recv(type, name, msg, timeout);
    if (!st.ok()) return st;
    if (type == kEvent) {
      if (events != nullptr && name == collect) {
        auto ev = ParseViciMessage(msg);
        if (!ev.ok()) return ev.status();
        events->push_back(std::move(ev).value());
      }
      continue;
    }
    if (type == kCmdUnknown) return Status(Code::kNotFound, "vici: unknown command " + command);
    if (type != kCmdResponse) return Status(Code::kParseError, "vici: unexpected packet type");
    result = ParseViciMessage(msg);
    break;
  }
  if (!collect.empty()) INLINESEC_RETURN_IF_ERROR(Register(false, collect, timeout));
  return result;
}

Status ViciClient::Command(const std::string& command, const ViciWriter& body,
                           std::chrono::milliseconds timeout) {
  auto r = Request(command, body, timeout);
  if (!r.ok()) return r.status();
  if (r->Get("success") != "yes") {
    return Status(Code::kFailedPrecondition, "vici " + command + " failed: " + r->Get("errmsg"));
  }
  return Status::Ok();
}

}  // namespace inlinesec::testing
