// inlinesec-bringup: brings an engine up exactly as a hardware bring-up
// engineer would, through the driver and nothing else: open a device URI,
// print identity, ABI version and capabilities, program a batch of SA pairs
// through the command ring, read every SA and the global counters back, and,
// on the model, pass traffic through each pair (outbound ESP, looped back
// into the inbound SA) plus one packet with an unknown SPI, which must come
// back as an SPI-miss exception. Every step is checked; the exit code is
// non-zero if the engine did anything other than what the ABI promises.
// Keys are random and never printed.
#include <openssl/rand.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "inlinesec/abi/abi.h"
#include "inlinesec/common/byte_reader.h"
#include "inlinesec/common/clock.h"
#include "inlinesec/common/secure_bytes.h"
#include "inlinesec/driver/device.h"
#include "inlinesec/driver/model_transport.h"
#include "inlinesec/model/engine.h"
#include "inlinesec/sdk/events.h"

namespace inlinesec {
namespace {

using abi::Bits;

int failures = 0;

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::printf("  FAIL: %s\n", what.c_str());
    ++failures;
  }
}

const char* AlgoName(abi::Algo a) {
  switch (a) {
    case abi::Algo::kAesGcm128:
      return "aes-gcm-128";
    case abi::Algo::kAesGcm256:
      return "aes-gcm-256";
    case abi::Algo::kChaCha20Poly1305:
      return "chacha20-poly1305";
    case abi::Algo::kAesCbc128HmacSha256:
      return "aes-cbc-128-hmac-sha256";
    case abi::Algo::kAesCbc256HmacSha256:
      return "aes-cbc-256-hmac-sha256";
    case abi::Algo::kNone:
      break;
  }
  return "?";
}

void PrintCaps(const driver::Device& dev, driver::Device& mdev) {
  const driver::Capabilities& c = dev.caps();
  std::printf("engine      %s\n", mdev.transport().Describe().c_str());
  std::printf("identity    id=0x%08x abi=%u.%u build=0x%08x epoch=%u\n",
              mdev.Peek(abi::Off(abi::Reg::kId)), c.abi_major, c.abi_minor, c.build,
              mdev.Peek(abi::Off(abi::Reg::kEpoch)));
  std::printf("sa table    %u entries, batch up to %u, replay window up to %u\n", c.sa_capacity,
              c.max_batch, c.replay_window_max);
  std::printf("rings       cmd 2^%u, cpl 2^%u, exq 2^%u (maxima)\n", c.cmd_ring_log2_max,
              c.cpl_ring_log2_max, c.exq_ring_log2_max);
  std::printf("algorithms ");
  for (unsigned a = 1; a <= 5; ++a) {
    if (c.SupportsAlgo(static_cast<abi::Algo>(a))) {
      std::printf(" %s", AlgoName(static_cast<abi::Algo>(a)));
    }
  }
  std::printf("\nfeatures   %s%s%s%s%s%s%s%s%s%s\n", c.esn ? " esn" : "", c.nat_t ? " nat-t" : "",
              c.ipv6 ? " ipv6" : "", c.tunnel ? " tunnel" : "", c.transport ? " transport" : "",
              c.lifetime_bytes ? " lifetime-bytes" : "",
              c.lifetime_packets ? " lifetime-packets" : "",
              c.ike_passthrough ? " ike-passthrough" : "", c.dscp_copy ? " dscp-copy" : "",
              c.df_control ? " df-control" : "");
}

// One SA pair: the outbound SA of a peer and our inbound SA with the same
// SPI and key, so that what the outbound path encrypts the inbound decrypts.
struct Pair {
  std::uint32_t spi;
  std::uint32_t in_index;
  std::uint32_t out_index;
};

abi::SaEntry MakeEntry(abi::Dir dir, std::uint32_t spi, std::span<const std::uint8_t> key,
                       std::uint32_t pair_no) {
  abi::SaEntry e{};
  e.spi.set(spi);
  std::uint32_t ctl = 0;
  ctl = abi::sa_ctl::Valid::Set(ctl, 1);
  ctl = abi::sa_ctl::Dir::Set(ctl, static_cast<std::uint32_t>(dir));
  ctl = abi::sa_ctl::Mode::Set(ctl, static_cast<std::uint32_t>(abi::Mode::kTunnel));
  ctl = abi::sa_ctl::Esn::Set(ctl, 1);
  e.ctl.set(ctl);
  std::uint32_t crypto = 0;
  crypto = abi::sa_crypto::Algo::Set(crypto, static_cast<std::uint32_t>(abi::Algo::kAesGcm256));
  crypto = abi::sa_crypto::IcvLen::Set(crypto, 16);
  crypto = abi::sa_crypto::KeyLen::Set(crypto, 32);
  e.crypto.set(crypto);
  e.replay.set(abi::sa_replay::Window::Set(0, 1024));
  for (std::size_t i = 0; i < 32; ++i) e.key[i] = key[i];
  for (std::size_t i = 0; i < 4; ++i) e.salt[i] = key[32 + i];
  e.outer.set(abi::sa_outer::Ttl::Set(0, 64));
  // Tunnel endpoints 192.168.77.1 -> 192.168.77.2 (documentation only: the
  // packets never leave this process).
  e.src = {192, 168, 77, 1};
  e.dst = {192, 168, 77, 2};
  e.hard_packets.set(1'000'000);
  e.soft_packets.set(900'000);
  e.cookie.set(0xB000'0000'0000'0000ull | pair_no);
  return e;
}

// A 100-byte IPv4/UDP packet 10.1.0.1 -> 10.2.0.<n> with a counting payload.
std::vector<std::uint8_t> InnerPacket(std::uint32_t n) {
  std::vector<std::uint8_t> p(100, 0);
  p[0] = 0x45;
  StoreBe16(&p[2], 100);
  p[8] = 64;
  p[9] = 17;
  const std::uint8_t src[4] = {10, 1, 0, 1};
  const std::uint8_t dst[4] = {10, 2, 0, static_cast<std::uint8_t>(n)};
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = src[i];
    p[16 + i] = dst[i];
  }
  std::uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += LoadBe16(&p[i]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  StoreBe16(&p[10], static_cast<std::uint16_t>(~sum));
  StoreBe16(&p[20], 5000);
  StoreBe16(&p[22], 6000);
  StoreBe16(&p[24], 80);
  for (std::size_t i = 28; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(i + n);
  return p;
}

int Run(const std::string& uri, std::uint32_t pairs, std::uint32_t packets) {
  SystemClock clock;
  auto dev = driver::Device::Open(uri, clock);
  if (!dev.ok()) {
    std::printf("open %s: %s\n", uri.c_str(), dev.status().ToString().c_str());
    return 2;
  }
  driver::Device& d = **dev;
  std::printf("== bring-up of %s\n", uri.c_str());
  PrintCaps(d, d);

  // Inbound SPIs index the table (SPI mod capacity == index) and carry a
  // generation in the high bits, so none falls in the reserved 0-255.
  const std::uint32_t cap = d.caps().sa_capacity;
  std::vector<Pair> plan;
  for (std::uint32_t i = 0; i < pairs; ++i) {
    const std::uint32_t in_index = 256 + i;
    plan.push_back({(1u << 24) | in_index, in_index, cap / 2 + i});
  }
  SecureBytes keys(plan.size() * 36);
  if (RAND_bytes(keys.data(), static_cast<int>(keys.size())) != 1) {
    std::printf("RAND_bytes failed\n");
    return 2;
  }
  std::vector<abi::SaWriteRecord> batch;
  for (std::uint32_t i = 0; i < plan.size(); ++i) {
    const auto key = keys.span().subspan(i * 36, 36);
    abi::SaWriteRecord in{};
    in.index.set(plan[i].in_index);
    in.entry = MakeEntry(abi::Dir::kInbound, plan[i].spi, key, i);
    abi::SaWriteRecord out{};
    out.index.set(plan[i].out_index);
    out.entry = MakeEntry(abi::Dir::kOutbound, plan[i].spi, key, i);
    batch.push_back(in);
    batch.push_back(out);
  }
  std::printf("\n== programming %zu SAs (%u pairs) in one kWriteSaBatch\n", batch.size(), pairs);
  auto outcome = d.WriteSaBatch(batch);
  for (auto& r : batch) SecureWipe(r.entry.key);
  if (!outcome.ok()) {
    std::printf("batch: %s\n", outcome.status().ToString().c_str());
    return 2;
  }
  std::printf("completion  applied=%u status=%s\n", outcome->applied,
              outcome->status.ToString().c_str());
  Check(outcome->applied == batch.size(), "batch applied whole");

  // A second batch over the same indices without Replace must be refused
  // whole and change nothing.
  std::vector<abi::SaWriteRecord> again(batch.begin(), batch.begin() + 2);
  auto refused = d.WriteSaBatch(again);
  Check(refused.ok() && refused->applied == 0 &&
            refused->status.device_status() == static_cast<std::uint32_t>(abi::CmdStatus::kExists),
        "re-writing valid entries without Replace is refused (kExists)");
  if (refused.ok()) {
    std::printf("re-write    refused as expected: %s (record %u)\n",
                refused->status.ToString().c_str(), refused->failed_record);
  }

  auto* model = dynamic_cast<driver::ModelTransport*>(&d.transport());
  if (model != nullptr && packets > 0) {
    std::printf("\n== traffic: %u packets per pair, outbound ESP looped into the inbound SA\n",
                packets);
    std::uint64_t ok = 0, bad = 0;
    std::vector<std::uint8_t> buf(2048);
    for (std::uint32_t i = 0; i < plan.size(); ++i) {
      for (std::uint32_t n = 0; n < packets; ++n) {
        const auto inner = InnerPacket(n + 1);
        model::Frame f{buf, model::kTxHeadroom, inner.size()};
        std::copy(inner.begin(), inner.end(), buf.begin() + model::kTxHeadroom);
        abi::TxMeta tx{};
        tx.sa_index.set(plan[i].out_index);
        tx.flags.set(abi::tx_flags::Offload::Set(0, 1));
        const auto reason = model->WithEngine([&](model::Engine& e) { return e.Transmit(tx, f); });
        if (reason != abi::ExqReason::kNone) {
          ++bad;
          continue;
        }
        const auto rx = model->WithEngine([&](model::Engine& e) { return e.Receive(f); });
        const auto status = static_cast<abi::RxStatus>(abi::rx_ctl::Status::Get(rx.ctl.get()));
        const auto got = f.bytes();
        if (status == abi::RxStatus::kDecrypted && rx.sa_index.get() == plan[i].in_index &&
            std::equal(got.begin(), got.end(), inner.begin(), inner.end())) {
          ++ok;
        } else {
          ++bad;
        }
      }
    }
    std::printf("round trips %llu intact, %llu failed\n", static_cast<unsigned long long>(ok),
                static_cast<unsigned long long>(bad));
    Check(bad == 0 && ok == std::uint64_t(plan.size()) * packets, "every packet round-trips");

    // One ESP packet for an SPI nobody allocated: an SPI miss, as data.
    {
      const auto inner = InnerPacket(200);
      model::Frame f{buf, model::kTxHeadroom, inner.size()};
      std::copy(inner.begin(), inner.end(), buf.begin() + model::kTxHeadroom);
      abi::TxMeta tx{};
      tx.sa_index.set(plan[0].out_index);
      tx.flags.set(abi::tx_flags::Offload::Set(0, 1));
      (void)model->WithEngine([&](model::Engine& e) { return e.Transmit(tx, f); });
      // Rewrite the SPI (outer IPv4 header is 20 bytes) to a stale generation.
      StoreBe32(&buf[f.off + 20], (2u << 24) | plan[0].in_index);
      (void)model->WithEngine([&](model::Engine& e) { return e.Receive(f); });
    }
    sdk::ExceptionConsumer consumer(d);
    std::vector<sdk::Event> events;
    auto n = consumer.Poll(events);
    Check(n.ok() && events.size() == 1 && events[0].kind == sdk::EventKind::kSpiMiss,
          "the unknown SPI comes back as one SPI-miss exception");
    for (const auto& ev : events) {
      std::printf("exception   %s spi=0x%08x src=%s dst=%s seq=%llu len=%u snap=%u bytes\n",
                  std::string(sdk::EventKindName(ev.kind)).c_str(), ev.packet.spi,
                  ev.packet.src.ToString().c_str(), ev.packet.dst.ToString().c_str(),
                  static_cast<unsigned long long>(ev.packet.seq), ev.packet.orig_len,
                  ev.packet.snap_len);
    }
  }

  std::printf("\n== SA state read back (kReadSa), first pairs\n");
  std::printf("%-6s %-4s %-10s %-8s %-8s %-8s %-6s %-6s\n", "index", "dir", "spi", "seq", "packets",
              "bytes", "replay", "icv");
  std::uint64_t total_packets = 0;
  for (std::uint32_t i = 0; i < plan.size(); ++i) {
    for (const std::uint32_t idx : {plan[i].in_index, plan[i].out_index}) {
      auto st = d.ReadSa(idx);
      Check(st.ok() && st->spi.get() == plan[i].spi, "SA " + std::to_string(idx) + " reads back");
      if (!st.ok()) continue;
      total_packets += st->packets.get();
      if (i < 4) {
        const bool out = abi::sa_ctl::Dir::Get(st->ctl.get()) == 1;
        std::printf("%-6u %-4s 0x%08x %-8llu %-8llu %-8llu %-6llu %-6llu\n", idx,
                    out ? "out" : "in", st->spi.get(),
                    static_cast<unsigned long long>(st->seq.get()),
                    static_cast<unsigned long long>(st->packets.get()),
                    static_cast<unsigned long long>(st->bytes.get()),
                    static_cast<unsigned long long>(st->replay_drops.get()),
                    static_cast<unsigned long long>(st->auth_fails.get()));
      }
    }
  }
  if (model != nullptr && packets > 0) {
    // Every round trip counts once on each side, plus the stale-SPI packet
    // that pair 0's outbound SA sent.
    Check(total_packets == 2ull * plan.size() * packets + 1, "per-SA packet counters add up");
  }

  auto stats = d.ReadStats();
  Check(stats.ok(), "kReadStats");
  if (stats.ok()) {
    std::printf("\n== global counters (kReadStats)\n");
    std::printf(
        "rx_packets=%llu tx_packets=%llu spi_miss=%llu replay=%llu auth_fail=%llu "
        "exq_posted=%llu exq_dropped=%llu cmd_done=%llu cmd_errors=%llu\n",
        static_cast<unsigned long long>(stats->rx_packets.get()),
        static_cast<unsigned long long>(stats->tx_packets.get()),
        static_cast<unsigned long long>(stats->spi_miss.get()),
        static_cast<unsigned long long>(stats->replay_drops.get()),
        static_cast<unsigned long long>(stats->auth_fails.get()),
        static_cast<unsigned long long>(stats->exq_posted.get()),
        static_cast<unsigned long long>(stats->exq_dropped.get()),
        static_cast<unsigned long long>(stats->cmd_done.get()),
        static_cast<unsigned long long>(stats->cmd_errors.get()));
  }

  std::printf("\n== register dump\n");
  for (const auto& r : d.DumpRegisters()) {
    std::printf("  0x%03x %-22s 0x%08x\n", r.offset, std::string(r.name).c_str(), r.value);
  }
  std::printf("\n%s: %d check(s) failed\n", failures == 0 ? "OK" : "FAILED", failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace inlinesec

int main(int argc, char** argv) {
  CLI::App app{"inlinesec-bringup: bring an inline IPsec engine up through the driver"};
  std::string uri = "model:";
  std::uint32_t pairs = 64;
  std::uint32_t packets = 16;
  app.add_option("--uri", uri, "device URI (model:..., xrt:<index|BDF>)");
  app.add_option("--pairs", pairs, "SA pairs to program in one batch")->check(CLI::Range(1, 256));
  app.add_option("--packets", packets, "packets per pair through the model")
      ->check(CLI::Range(0, 10000));
  CLI11_PARSE(app, argc, argv);
  return inlinesec::Run(uri, pairs, packets);
}
