// Helpers shared by the IKE unit tests: hex conversion and a reader for the
// "key = hex" record files in tests/vectors/ike_*.txt.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace inlinesec::ike::testing {

inline std::vector<std::uint8_t> Hex(const std::string& s) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
  return out;
}

template <typename Span>
std::string ToHex(const Span& b) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  for (std::uint8_t x : b) {
    s += kDigits[x >> 4];
    s += kDigits[x & 15];
  }
  return s;
}

using Record = std::map<std::string, std::string>;

// Blank-line separated records of "name = value"; '#' lines are comments.
inline std::vector<Record> ReadVectors(const std::string& file) {
  std::ifstream in(std::string(INLINESEC_VECTORS_DIR) + "/" + file);
  std::vector<Record> out;
  Record cur;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '#') continue;
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
      continue;
    }
    cur[line.substr(0, eq)] = line.substr(eq + 3);
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace inlinesec::ike::testing
