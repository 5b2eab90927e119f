// The control protocol of inlinesecd and its two ends. A client connects to
// the daemon's unix stream socket and writes one JSON object per line:
//   {"cmd":"status"} {"cmd":"sas"} {"cmd":"counters"} {"cmd":"regs"}
//   {"cmd":"events"}                      (the reply is followed by a stream)
//   {"cmd":"fault","kind":"reset"}        (only with allow_faults)
//   {"cmd":"ike","kind":"rekey-child"}    (also rekey-ike, delete-child,
//                                          delete-ike, initiate)
// The daemon answers each with one line: {"ok":true,"data":{...}} or
// {"ok":false,"error":"..."}; after "events" it keeps writing
// {"event":{...}} lines until the client closes. docs/gateway.md has the
// fields of each reply.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "inlinesec/common/clock.h"
#include "inlinesec/common/status.h"
#include "inlinesec/gateway/event_loop.h"

namespace inlinesec::gateway {

class Gateway;

inline constexpr std::size_t kMaxControlLine = 4096;

struct ControlRequest {
  std::string cmd;
  std::string kind;  // "fault" and "ike" only
};

// Parses one request line (without its newline). Unknown commands, unknown
// keys and non-objects are errors that name what was wrong.
[[nodiscard]] Result<ControlRequest> ParseControlRequest(std::string_view line);
std::string FormatControlRequest(const ControlRequest& req);

// Reply lines (each ends with '\n'). `data_json` must be one JSON value.
std::string OkReply(std::string_view data_json);
std::string ErrorReply(std::string_view message);
std::string EventLine(std::string_view event_json);

// A parsed reply or event line.
struct ControlReply {
  bool ok = false;
  bool is_event = false;
  std::string error;
  std::string data_json;  // "data" (or "event") re-serialised
};
[[nodiscard]] Result<ControlReply> ParseControlReply(std::string_view line);

// The daemon end: accepts clients on `path` (replacing a stale socket file)
// and serves them from the loop. Slow clients of the event stream lose
// events rather than block the daemon (bounded per-client output).
class ControlServer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<ControlServer>> Create(const std::string& path,
                                                                     EventLoop& loop,
                                                                     Gateway& gateway);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

 private:
  struct Client {
    int fd = -1;
    std::string in;
    std::string out;
    std::uint64_t subscription = 0;
    std::uint64_t dropped = 0;
  };
  ControlServer(std::string path, EventLoop& loop, Gateway& gateway, int fd);
  void OnAccept();
  void OnClient(int fd, std::uint32_t events);
  void Handle(Client& c, std::string_view line);
  void Queue(Client& c, const std::string& text);
  void Flush(Client& c);
  void Close(int fd);

  std::string path_;
  EventLoop& loop_;
  Gateway& gateway_;
  int listen_fd_ = -1;
  std::unordered_map<int, Client> clients_;
};

// The client end (the CLI and tests): one request, one reply.
[[nodiscard]] Result<ControlReply> ControlCall(const std::string& path, const ControlRequest& req,
                                               int timeout_ms = 5000);
// Subscribes to the event stream and calls `on_event` with each event's JSON
// until it returns false, the daemon closes, or `timeout_ms` passes (-1:
// forever).
[[nodiscard]] Status ControlStream(const std::string& path,
                                   const std::function<bool(const std::string&)>& on_event,
                                   int timeout_ms = -1);

}  // namespace inlinesec::gateway
