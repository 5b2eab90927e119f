// The SA file of inlinesec-model-pcap: JSON describing the SAs to program
// (docs/tools/model_pcap.md has the schema). Every error names the record and
// the field ("sas[3].key: aes-gcm-256 needs 32 bytes, got 16"). Keys are
// held in SecureBytes until they are copied into the SA entries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "inlinesec/abi/sa_entry.h"
#include "inlinesec/common/status.h"

namespace inlinesec::tools {

struct Prefix {
  abi::IpAddr addr{};
  bool v6 = false;
  unsigned len = 0;
  bool Contains(const abi::IpAddr& a, bool a_v6) const;
};

struct SaSpec {
  abi::SaWriteRecord record{};  // index + entry, ready for kWriteSaBatch
  std::string name;             // "sas[3]" or the record's "name"
  std::optional<Prefix> match;  // outbound: inner destinations it protects
};

struct SaFile {
  std::uint32_t capacity = 1u << 16;
  std::vector<SaSpec> sas;
};

// Parses the JSON text. The entries' key bytes must be wiped by the caller
// once programmed (SecureWipe(record.entry.key)).
Result<SaFile> ParseSaFile(const std::string& text);

// "192.168.1.1" / "fd00::1" into the ABI's 16-byte form.
bool ParseIp(const std::string& s, abi::IpAddr& out, bool& v6);

}  // namespace inlinesec::tools
