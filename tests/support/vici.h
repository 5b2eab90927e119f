// A small client for strongSwan's VICI control protocol, so interop tests and
// benchmarks drive charon over one persistent socket instead of spawning a
// swanctl process per action. Protocol facts (from the vici plugin's
// documentation): each segment is a 32-bit big-endian length plus data; a
// packet starts with a type byte (CMD_REQUEST 0, CMD_RESPONSE 1, CMD_UNKNOWN
// 2, EVENT_REGISTER 3, EVENT_UNREGISTER 4, EVENT_CONFIRM 5, EVENT_UNKNOWN 6,
// EVENT 7), named types carry an 8-bit length and name; a message is a flat
// sequence of elements (SECTION_START 1 + name, SECTION_END 2, KEY_VALUE 3 +
// name + 16-bit length value, LIST_START 4 + name, LIST_ITEM 5 + value,
// LIST_END 6). Replies are parsed with bounds: charon is a peer, not trusted.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "inlinesec/common/status.h"

namespace inlinesec::testing {

// A parsed VICI message: key/values, lists and nested sections, in order.
struct ViciSection {
  std::vector<std::pair<std::string, std::string>> values;
  std::vector<std::pair<std::string, std::vector<std::string>>> lists;
  std::vector<std::pair<std::string, ViciSection>> sections;

  // Value of `key` in this section ("" if absent).
  std::string Get(const std::string& key) const;
  const ViciSection* Section(const std::string& name) const;
  const std::vector<std::string>* List(const std::string& name) const;
  // Depth-first search for the first section named `name`.
  const ViciSection* Find(const std::string& name) const;
};

// Builds a message body.
class ViciWriter {
 public:
  ViciWriter& Begin(const std::string& name);
  ViciWriter& End();
  ViciWriter& Kv(const std::string& key, const std::string& value);
  ViciWriter& List(const std::string& key, const std::vector<std::string>& items);
  const std::vector<std::uint8_t>& bytes() const { return out_; }

 private:
  void Name(const std::string& name);
  std::vector<std::uint8_t> out_;
};

Result<ViciSection> ParseViciMessage(const std::vector<std::uint8_t>& body);

class ViciClient {
 public:
  ViciClient() = default;
  ~ViciClient();
  ViciClient(ViciClient&& o) noexcept;
  ViciClient& operator=(ViciClient&& o) noexcept;
  ViciClient(const ViciClient&) = delete;
  ViciClient& operator=(const ViciClient&) = delete;

  // Connects to a UNIX socket, retrying until `timeout` (charon may still be
  // starting).
  static Result<ViciClient> Connect(const std::string& socket_path,
                                    std::chrono::milliseconds timeout);

  // Sends a command and returns its response. Events named `collect` that
  // arrive before the response are appended to `events` (the client
  // registers for them first and unregisters after).
  Result<ViciSection> Request(const std::string& command, const ViciWriter& body,
                              std::chrono::milliseconds timeout, const std::string& collect = "",
                              std::vector<ViciSection>* events = nullptr);

  // Convenience: a command whose response carries success=yes|no and errmsg.
  Status Command(const std::string& command, const ViciWriter& body,
                 std::chrono::milliseconds timeout);

 private:
  Status Send(std::uint8_t type, const std::string& name, const std::vector<std::uint8_t>& body);
  // Reads one packet: type, name (for named types) and body.
  Status Recv(std::uint8_t& type, std::string& name, std::vector<std::uint8_t>& body,
              std::chrono::milliseconds timeout);
  Status Register(bool on, const std::string& event, std::chrono::milliseconds timeout);

  int fd_ = -1;
};

}  // namespace inlinesec::testing
