// Shared helpers of the ESP interop tests (Scapy, tshark, DPDK): the SA
// combinations each peer is run over, a scratch directory that is removed
// afterwards, running a helper program with a captured exit code, address
// formatting and a pcap writer. Nothing here opens a socket: every peer works
// on files or in process.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "esp_harness.h"

namespace inlinesec::esp_interop {

struct Combo {
  abi::Mode mode;
  bool outer_v6;
  bool inner_v6;
  bool esn;
  bool udp;
  abi::Algo algo;

  std::string Name() const {
    std::string n = mode == abi::Mode::kTunnel ? "tunnel" : "transport";
    n += outer_v6 ? "_out6" : "_out4";
    n += inner_v6 ? "_in6" : "_in4";
    if (esn) n += "_esn";
    if (udp) n += "_natt";
    n += algo == abi::Algo::kChaCha20Poly1305
             ? "_chacha"
             : (algo == abi::Algo::kAesGcm128 ? "_gcm128" : "_gcm256");
    return n;
  }
};

// gtest prints the combination by name (test names and failure messages).
inline void PrintTo(const Combo& c, std::ostream* os) { *os << c.Name(); }

// Tunnel/transport x IPv4/IPv6 outer x inner family x ESN x NAT-T with
// AES-256-GCM, plus a few AES-128-GCM and ChaCha20-Poly1305 ones.
inline std::vector<Combo> Combos() {
  std::vector<Combo> v;
  for (abi::Mode mode : {abi::Mode::kTunnel, abi::Mode::kTransport})
    for (bool outer_v6 : {false, true})
      for (bool inner_v6 : {false, true})
        for (bool esn : {false, true})
          for (bool udp : {false, true}) {
            if (mode == abi::Mode::kTransport && inner_v6 != outer_v6) continue;
            v.push_back({mode, outer_v6, inner_v6, esn, udp, abi::Algo::kAesGcm256});
          }
  v.push_back({abi::Mode::kTunnel, false, false, false, false, abi::Algo::kAesGcm128});
  v.push_back({abi::Mode::kTransport, true, true, true, false, abi::Algo::kAesGcm128});
  v.push_back({abi::Mode::kTunnel, false, true, false, false, abi::Algo::kChaCha20Poly1305});
  v.push_back({abi::Mode::kTransport, false, false, true, false, abi::Algo::kChaCha20Poly1305});
  return v;
}

inline esp_test::SaSpec SpecFor(const Combo& c, std::uint32_t spi) {
  esp_test::SaSpec s;
  s.spi = spi;
  s.mode = c.mode;
  s.outer_v6 = c.outer_v6;
  s.esn = c.esn;
  s.udp = c.udp;
  s.algo = c.algo;
  s.sport = 4500;
  s.dport = 4500;
  s.window = 128;
  // With ESN the packets cross 2^32, so the high half is really exercised.
  s.seq = c.esn ? 0x1FFFFFFFEull : 100;
  return s;
}

inline esp_test::Bytes InnerFor(const Combo& c, std::size_t size) {
  return c.inner_v6 ? esp_test::Ipv6Udp(size) : esp_test::Ipv4Udp(size);
}

inline std::string AddrString(const abi::IpAddr& a, bool v6) {
  char buf[64];
  if (!v6) {
    std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    return buf;
  }
  std::string s;
  for (int i = 0; i < 16; i += 2) {
    std::snprintf(buf, sizeof(buf), "%x", (a[i] << 8) | a[i + 1]);
    if (i) s += ":";
    s += buf;
  }
  return s;
}

// A private scratch directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/inlinesec-interop-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    if (p != nullptr) path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  bool ok() const { return !path_.empty(); }

 private:
  std::string path_;
};

// Runs a shell command line; returns its exit status (-1 if it did not exit).
inline int RunCommand(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  if (rc == -1 || !WIFEXITED(rc)) return -1;
  return WEXITSTATUS(rc);
}

inline bool Executable(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Classic pcap, LINKTYPE_RAW (101): each record is an IP packet.
inline bool WritePcap(const std::string& path, const std::vector<esp_test::Bytes>& pkts) {
  std::ofstream f(path, std::ios::binary);
  const auto u32 = [&](std::uint32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
  const auto u16 = [&](std::uint16_t v) { f.write(reinterpret_cast<const char*>(&v), 2); };
  u32(0xA1B2C3D4);
  u16(2);
  u16(4);
  u32(0);
  u32(0);
  u32(65535);
  u32(101);
  std::uint32_t t = 1700000000;
  for (const auto& p : pkts) {
    u32(t++);
    u32(0);
    u32(static_cast<std::uint32_t>(p.size()));
    u32(static_cast<std::uint32_t>(p.size()));
    f.write(reinterpret_cast<const char*>(p.data()), static_cast<std::streamsize>(p.size()));
  }
  return static_cast<bool>(f);
}

}  // namespace inlinesec::esp_interop
