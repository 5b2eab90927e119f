// Helpers shared by the gateway tests that drive inlinesecd processes: read
// a log file, query a daemon's control socket, pick a counter out of its
// JSON reply, time a recovery, and remove a test directory however the test
// ends.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "inlinesec/gateway/control.h"

namespace inlinesec::gateway {

using SteadyClock = std::chrono::steady_clock;

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The data of a control reply, or an empty object if the call failed.
inline nlohmann::json Query(const std::string& socket, const char* cmd) {
  Result<ControlReply> r = ControlCall(socket, {cmd, ""});
  if (!r.ok() || !r->ok) return nlohmann::json::object();
  return nlohmann::json::parse(r->data_json, nullptr, /*allow_exceptions=*/false);
}

// j[section][key] as a number, 0 if absent.
inline std::uint64_t Num(const nlohmann::json& j, const char* section, const char* key) {
  if (!j.contains(section) || !j[section].contains(key)) return 0;
  return j[section][key].get<std::uint64_t>();
}

inline double MsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

// Removes a directory however the test ends.
struct DirGuard {
  std::string path;
  ~DirGuard() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace inlinesec::gateway
