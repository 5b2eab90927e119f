// Control protocol: JSON-lines codec, the daemon's unix-socket server on the
// EventLoop, and the blocking client used by the CLI and tests. JSON parse
// exceptions stay inside this file.
#include "inlinesec/gateway/control.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "inlinesec/gateway/gateway.h"

namespace inlinesec::gateway {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxClientOutput = 1 << 20;
constexpr std::size_t kMaxClients = 64;

Status Errno(const std::string& what) {
  return Status(Code::kUnavailable, what + ": " + std::strerror(errno));
}

Result<json> ParseJson(std::string_view line) {
  try {
    return json::parse(line.begin(), line.end());
  } catch (const json::exception& e) {
    return Status(Code::kParseError, std::string("not JSON: ") + e.what());
  }
}

Result<sockaddr_un> UnixAddr(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(a.sun_path))
    return Status(Code::kInvalidArgument, "socket path too long: " + path);
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

Result<int> Connect(const std::string& path) {
  Result<sockaddr_un> a = UnixAddr(path);
  if (!a.ok()) return a.status();
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  if (connect(fd, reinterpret_cast<const sockaddr*>(&*a), sizeof(*a)) != 0) {
    Status st = Errno("connect " + path + " (is inlinesecd running?)");
    close(fd);
    return st;
  }
  return fd;
}

Status WriteAll(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("send");
    }
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

// Reads one line (blocking, bounded by the deadline; -1 = none).
Result<std::string> ReadLine(int fd, std::string& pending, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const std::size_t nl = pending.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      return line;
    }
    int wait = -1;
    if (timeout_ms >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Status(Code::kDeadlineExceeded, "no reply from inlinesecd");
      wait = static_cast<int>(left.count());
    }
    pollfd p{fd, POLLIN, 0};
    const int r = poll(&p, 1, wait);
    if (r < 0 && errno != EINTR) return Errno("poll");
    if (r <= 0) continue;
    char chunk[4096];
    const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n == 0) return Status(Code::kUnavailable, "inlinesecd closed the connection");
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Errno("recv");
    }
    pending.append(chunk, static_cast<std::size_t>(n));
    if (pending.size() > (16u << 20)) return Status(Code::kDataLoss, "reply line too long");
  }
}

}  // namespace

Result<ControlRequest> ParseControlRequest(std::string_view line) {
  if (line.size() > kMaxControlLine) return Status(Code::kInvalidArgument, "request too long");
  Result<json> j = ParseJson(line);
  if (!j.ok()) return j.status();
  if (!j->is_object()) return Status(Code::kInvalidArgument, "request is not a JSON object");
  ControlRequest req;
  for (auto it = j->begin(); it != j->end(); ++it) {
    if (it.key() != "cmd" && it.key() != "kind")
      return Status(Code::kInvalidArgument, "unknown key " + it.key());
    if (!it->is_string())
      return Status(Code::kInvalidArgument, "key " + it.key() + " must be a string");
  }
  auto cmd = j->find("cmd");
  if (cmd == j->end()) return Status(Code::kInvalidArgument, "missing key cmd");
  req.cmd = cmd->get<std::string>();
  static constexpr std::string_view kCommands[] = {"status", "sas",   "counters", "regs",
                                                   "events", "fault", "ike"};
  bool known = false;
  for (std::string_view c : kCommands) known = known || c == req.cmd;
  if (!known) return Status(Code::kInvalidArgument, "unknown command " + req.cmd);
  auto kind = j->find("kind");
  if (kind != j->end()) {
    if (req.cmd != "fault" && req.cmd != "ike")
      return Status(Code::kInvalidArgument, "kind is only for fault and ike");
    req.kind = kind->get<std::string>();
  }
  if ((req.cmd == "fault" || req.cmd == "ike") && req.kind.empty())
    return Status(Code::kInvalidArgument, req.cmd + " needs a kind");
  return req;
}

std::string FormatControlRequest(const ControlRequest& req) {
  json j = {{"cmd", req.cmd}};
  if (!req.kind.empty()) j["kind"] = req.kind;
  return j.dump() + "\n";
}

std::string OkReply(std::string_view data_json) {
  return "{\"ok\":true,\"data\":" + std::string(data_json) + "}\n";
}

std::string ErrorReply(std::string_view message) {
  return json({{"ok", false}, {"error", std::string(message)}}).dump() + "\n";
}

std::string EventLine(std::string_view event_json) {
  return "{\"event\":" + std::string(event_json) + "}\n";
}

Result<ControlReply> ParseControlReply(std::string_view line) {
  Result<json> j = ParseJson(line);
  if (!j.ok()) return j.status();
  if (!j->is_object()) return Status(Code::kParseError, "reply is not a JSON object");
  ControlReply r;
  auto ev = j->find("event");
  if (ev != j->end()) {
    r.ok = true;
    r.is_event = true;
    r.data_json = ev->dump();
    return r;
  }
  auto ok = j->find("ok");
  if (ok == j->end() || !ok->is_boolean()) return Status(Code::kParseError, "reply without ok");
  r.ok = ok->get<bool>();
  if (r.ok) {
    auto data = j->find("data");
    r.data_json = data == j->end() ? "null" : data->dump();
  } else {
    auto err = j->find("error");
    r.error = err != j->end() && err->is_string() ? err->get<std::string>() : "unknown error";
  }
  return r;
}

// --- server ---

Result<std::unique_ptr<ControlServer>> ControlServer::Create(const std::string& path,
                                                             EventLoop& loop, Gateway& gateway) {
  Result<sockaddr_un> a = UnixAddr(path);
  if (!a.ok()) return a.status();
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket(unix)");
  (void)unlink(path.c_str());  // a stale socket of a dead daemon
  if (bind(fd, reinterpret_cast<const sockaddr*>(&*a), sizeof(*a)) != 0 || listen(fd, 16) != 0) {
    Status st = Errno("control socket " + path);
    close(fd);
    return st;
  }
  std::unique_ptr<ControlServer> s(new ControlServer(path, loop, gateway, fd));
  ControlServer* self = s.get();
  INLINESEC_RETURN_IF_ERROR(loop.Add(fd, EPOLLIN, [self](std::uint32_t) { self->OnAccept(); }));
  return s;
}

ControlServer::ControlServer(std::string path, EventLoop& loop, Gateway& gateway, int fd)
    : path_(std::move(path)), loop_(loop), gateway_(gateway), listen_fd_(fd) {}

ControlServer::~ControlServer() {
  while (!clients_.empty()) Close(clients_.begin()->first);
  loop_.Remove(listen_fd_);
  close(listen_fd_);
  (void)unlink(path_.c_str());
}

void ControlServer::OnAccept() {
  while (true) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (clients_.size() >= kMaxClients) {
      close(fd);
      continue;
    }
    clients_[fd].fd = fd;
    Status st = loop_.Add(fd, EPOLLIN, [this, fd](std::uint32_t ev) { OnClient(fd, ev); });
    if (!st.ok()) {
      clients_.erase(fd);
      close(fd);
    }
  }
}

void ControlServer::OnClient(int fd, std::uint32_t events) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client& c = it->second;
  if (events & EPOLLOUT) Flush(c);
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    char chunk[4096];
    const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      Close(fd);
      return;
    }
    if (n > 0) c.in.append(chunk, static_cast<std::size_t>(n));
    std::size_t nl;
    while (clients_.count(fd) != 0 && (nl = c.in.find('\n')) != std::string::npos) {
      const std::string line = c.in.substr(0, nl);
      c.in.erase(0, nl + 1);
      Handle(c, line);
    }
    if (clients_.count(fd) != 0 && c.in.size() > kMaxControlLine) {
      Queue(c, ErrorReply("request too long"));
      c.in.clear();
    }
  }
}

void ControlServer::Handle(Client& c, std::string_view line) {
  Result<ControlRequest> req = ParseControlRequest(line);
  if (!req.ok()) {
    Queue(c, ErrorReply(req.status().message()));
    return;
  }
  if (req->cmd == "status") {
    Queue(c, OkReply(gateway_.StatusJson()));
  } else if (req->cmd == "sas") {
    Queue(c, OkReply(gateway_.SasJson()));
  } else if (req->cmd == "counters") {
    Queue(c, OkReply(gateway_.CountersJson()));
  } else if (req->cmd == "regs") {
    Queue(c, OkReply(gateway_.RegsJson()));
  } else if (req->cmd == "fault") {
    Result<std::string> r = gateway_.InjectFault(req->kind);
    Queue(c, r.ok() ? OkReply(*r) : ErrorReply(r.status().ToString()));
  } else if (req->cmd == "ike") {
    Result<std::string> r = gateway_.IkeCommand(req->kind);
    Queue(c, r.ok() ? OkReply(*r) : ErrorReply(r.status().ToString()));
  } else if (req->cmd == "events") {
    if (c.subscription == 0) {
      const int fd = c.fd;
      c.subscription = gateway_.Subscribe([this, fd](const std::string& ev) {
        auto it = clients_.find(fd);
        if (it != clients_.end()) Queue(it->second, EventLine(ev));
      });
    }
    Queue(c, OkReply("{\"subscribed\":true}"));
  }
}

void ControlServer::Queue(Client& c, const std::string& text) {
  if (c.out.size() + text.size() > kMaxClientOutput) {
    ++c.dropped;  // a stalled reader loses events; the daemon never blocks
    return;
  }
  const bool was_empty = c.out.empty();
  c.out += text;
  if (was_empty) Flush(c);
}

void ControlServer::Flush(Client& c) {
  while (!c.out.empty()) {
    const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN) break;
      return;  // the reader is gone: EPOLLHUP/EPOLLERR closes it
    }
    c.out.erase(0, static_cast<std::size_t>(n));
  }
  (void)loop_.Modify(c.fd, c.out.empty() ? EPOLLIN : (EPOLLIN | EPOLLOUT));
}

void ControlServer::Close(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  if (it->second.subscription != 0) gateway_.Unsubscribe(it->second.subscription);
  loop_.Remove(fd);
  close(fd);
  clients_.erase(it);
}

// --- client ---

Result<ControlReply> ControlCall(const std::string& path, const ControlRequest& req,
                                 int timeout_ms) {
  Result<int> fd = Connect(path);
  if (!fd.ok()) return fd.status();
  Status st = WriteAll(*fd, FormatControlRequest(req));
  std::string pending;
  Result<std::string> line = st.ok() ? ReadLine(*fd, pending, timeout_ms) : Result<std::string>(st);
  close(*fd);
  if (!line.ok()) return line.status();
  return ParseControlReply(*line);
}

Status ControlStream(const std::string& path,
                     const std::function<bool(const std::string&)>& on_event, int timeout_ms) {
  Result<int> fd = Connect(path);
  if (!fd.ok()) return fd.status();
  Status st = WriteAll(*fd, FormatControlRequest({"events", ""}));
  std::string pending;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (st.ok()) {
    int left = -1;
    if (timeout_ms >= 0) {
      left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  deadline - std::chrono::steady_clock::now())
                                  .count());
      if (left <= 0) break;
    }
    Result<std::string> line = ReadLine(*fd, pending, left);
    if (!line.ok()) {
      if (line.status().code() != Code::kDeadlineExceeded) st = line.status();
      break;
    }
    Result<ControlReply> r = ParseControlReply(*line);
    if (!r.ok()) {
      st = r.status();
    } else if (!r->ok) {
      st = Status(Code::kFailedPrecondition, r->error);
    } else if (r->is_event && !on_event(r->data_json)) {
      break;
    }
  }
  close(*fd);
  return st;
}

}  // namespace inlinesec::gateway
