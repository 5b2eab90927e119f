// Helpers shared by the gateway tests that drive inlinesecd processes: read
// a log file, query a daemon's control socket, pick a counter out of its
// JSON reply, time a recovery, open a socket inside a network namespace,
// and remove a test directory however the test ends.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>

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

// Creates a socket inside namespace `ns` (by name) from a helper thread;
// -1 on failure.
inline int SocketIn(const std::string& ns, int domain, int type, int proto) {
  int fd = -1;
  std::thread t([&] {
    const int nsfd = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) return;
    if (setns(nsfd, CLONE_NEWNET) == 0) fd = socket(domain, type | SOCK_CLOEXEC, proto);
    close(nsfd);
  });
  t.join();
  return fd;
}

inline sockaddr_in Addr(const char* ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// An IPv4 packet for a raw (IPPROTO_RAW) socket: ESP in UDP to port 4500
// from a spoofed source (host order), with SPI `spi`, sequence number 1 and
// random bytes for the rest. The kernel fills in the IP checksum.
inline std::array<std::uint8_t, 92> SpoofedEspInUdp(std::uint32_t src, const sockaddr_in& dst,
                                                    std::uint16_t sport, std::uint32_t spi,
                                                    std::mt19937& rng) {
  std::array<std::uint8_t, 92> pkt{};
  pkt[0] = 0x45;
  pkt[3] = pkt.size();
  pkt[8] = 64;
  pkt[9] = IPPROTO_UDP;
  const std::uint32_t nsrc = htonl(src);
  std::memcpy(&pkt[12], &nsrc, 4);
  std::memcpy(&pkt[16], &dst.sin_addr, 4);
  const std::uint16_t nsport = htons(sport), dport = htons(4500), ulen = htons(pkt.size() - 20);
  std::memcpy(&pkt[20], &nsport, 2);
  std::memcpy(&pkt[22], &dport, 2);
  std::memcpy(&pkt[24], &ulen, 2);
  const std::uint32_t nspi = htonl(spi), seq = htonl(1);
  std::memcpy(&pkt[28], &nspi, 4);
  std::memcpy(&pkt[32], &seq, 4);
  for (std::size_t i = 36; i < pkt.size(); ++i) pkt[i] = static_cast<std::uint8_t>(rng());
  return pkt;
}

// A random SPI that is neither the non-ESP marker nor reserved (RFC 4303).
inline std::uint32_t RandomSpi(std::mt19937& rng) {
  const std::uint32_t spi = rng();
  return spi < 256 ? spi + 256 : spi;
}

// Closes a file descriptor however the test ends.
struct FdGuard {
  int fd = -1;
  ~FdGuard() {
    if (fd >= 0) close(fd);
  }
};

// Removes a directory however the test ends.
struct DirGuard {
  std::string path;
  ~DirGuard() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace inlinesec::gateway
