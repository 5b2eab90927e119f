// Shared helpers for driver and SDK tests: opening a model-backed Device with
// short deadlines, reaching the model behind it for fault plans and packets,
// building SA descriptions and minimal IPv4 packets.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "inlinesec/common/byte_reader.h"
#include "inlinesec/common/clock.h"
#include "inlinesec/driver/device.h"
#include "inlinesec/driver/model_transport.h"
#include "inlinesec/sdk/sa_manager.h"

namespace inlinesec::testenv {

// Deadlines for tests: generous enough that a threaded model descheduled on
// a loaded CI machine never misses one; tests that need a command to time
// out use ShortTimeoutOptions.
inline driver::DeviceOptions FastOptions() {
  driver::DeviceOptions o;
  o.command_timeout = std::chrono::seconds(2);
  o.reset_timeout = std::chrono::milliseconds(500);
  o.poll_interval = std::chrono::microseconds(50);
  return o;
}

// For tests whose command is meant to time out (a dropped doorbell).
inline driver::DeviceOptions ShortTimeoutOptions() {
  driver::DeviceOptions o = FastOptions();
  o.command_timeout = std::chrono::milliseconds(50);
  return o;
}

// The model behind a device, or nullptr for a card.
inline driver::ModelTransport* ModelOf(driver::Device& d) {
  return dynamic_cast<driver::ModelTransport*>(&d.transport());
}

inline SecureBytes Key(std::uint8_t seed, std::size_t n = 32) {
  std::vector<std::uint8_t> k(n);
  for (std::size_t i = 0; i < n; ++i) k[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return SecureBytes(k);
}

inline sdk::SaDescription Outbound(std::uint32_t spi, std::uint8_t seed = 1) {
  sdk::SaDescription d;
  d.direction = sdk::SaDirection::kOutbound;
  d.spi = spi;
  d.salt = {1, 2, 3, seed};
  d.algo = sdk::AeadAlgo::kAesGcm256;
  d.key = Key(seed);
  d.mode = sdk::SaMode::kTunnel;
  d.tunnel_src = sdk::IpAddress::V4(192, 0, 2, 1);
  d.tunnel_dst = sdk::IpAddress::V4(198, 51, 100, 7);
  d.cookie = 0xC0000000u + spi;
  return d;
}

inline sdk::SaDescription Inbound(std::uint32_t spi = 0, std::uint8_t seed = 2) {
  sdk::SaDescription d = Outbound(0, seed);
  d.direction = sdk::SaDirection::kInbound;
  d.spi = spi;
  d.tunnel_src = sdk::IpAddress::V4(198, 51, 100, 7);
  d.tunnel_dst = sdk::IpAddress::V4(192, 0, 2, 1);
  d.replay_window = 64;
  return d;
}

inline void Ipv4Header(std::uint8_t* p, std::uint16_t total, std::uint8_t proto,
                       std::array<std::uint8_t, 4> src, std::array<std::uint8_t, 4> dst) {
  p[0] = 0x45;
  p[1] = 0;
  StoreBe16(p + 2, total);
  StoreBe16(p + 4, 0x1234);
  StoreBe16(p + 6, 0x4000);
  p[8] = 64;
  p[9] = proto;
  p[10] = p[11] = 0;
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = src[i];
    p[16 + i] = dst[i];
  }
  std::uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += LoadBe16(p + i);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  StoreBe16(p + 10, static_cast<std::uint16_t>(~sum));
}

// A plain IPv4/UDP packet of `payload` bytes, with TX head- and tailroom.
struct TxPacket {
  std::vector<std::uint8_t> buf;
  model::Frame frame;
};
inline TxPacket Ipv4Udp(std::size_t payload) {
  TxPacket t;
  std::size_t len = 28 + payload;
  t.buf.assign(model::kTxHeadroom + len + model::kTxTailroom, 0);
  std::uint8_t* p = t.buf.data() + model::kTxHeadroom;
  Ipv4Header(p, static_cast<std::uint16_t>(len), 17, {10, 0, 0, 1}, {10, 0, 0, 2});
  StoreBe16(p + 20, 1000);
  StoreBe16(p + 22, 2000);
  StoreBe16(p + 24, static_cast<std::uint16_t>(8 + payload));
  for (std::size_t i = 0; i < payload; ++i) p[28 + i] = static_cast<std::uint8_t>(i);
  t.frame = model::Frame{t.buf, model::kTxHeadroom, len};
  return t;
}

// An ESP packet (IPv4, optionally in UDP 4500) for `spi` from 203.0.113.9:
// it will not authenticate, but an unknown SPI is all an SPI-miss test needs.
inline TxPacket Esp(std::uint32_t spi, bool udp = false) {
  TxPacket t;
  const std::size_t udp_len = udp ? 8 : 0;
  const std::size_t esp_len = 8 + 8 + 32 + 16;
  const std::size_t len = 20 + udp_len + esp_len;
  t.buf.assign(len, 0);
  std::uint8_t* p = t.buf.data();
  Ipv4Header(p, static_cast<std::uint16_t>(len), udp ? 17 : 50, {203, 0, 113, 9}, {192, 0, 2, 1});
  std::uint8_t* e = p + 20;
  if (udp) {
    StoreBe16(e, 4501);
    StoreBe16(e + 2, 4500);
    StoreBe16(e + 4, static_cast<std::uint16_t>(8 + esp_len));
    e += 8;
  }
  StoreBe32(e, spi);
  StoreBe32(e + 4, 1);
  for (std::size_t i = 8; i < esp_len; ++i) e[i] = static_cast<std::uint8_t>(i * 7);
  t.frame = model::Frame{t.buf, 0, len};
  return t;
}

inline abi::TxMeta TxFor(std::uint32_t index) {
  abi::TxMeta m{};
  m.sa_index.set(index);
  m.flags.set(abi::tx_flags::Offload::Set(0, 1));
  return m;
}

}  // namespace inlinesec::testenv
