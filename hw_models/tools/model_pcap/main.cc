// inlinesec-model-pcap: runs packets from a pcap through the bit-accurate
// engine model, inbound or outbound, with SAs from a JSON file, and writes
// what the engine produced: output packets (pcap, raw IP), exception entries
// (JSON lines, one per entry, tagged with the input record that caused it)
// and the SA table state afterwards (JSON). This is how an RTL team gets
// golden vectors and diffs silicon against the model: with the same inputs
// the outputs are identical byte for byte (the engine's clock follows the
// pcap timestamps, and the model derives IVs from sequence numbers).
//
// Bad input (truncated pcap, unknown link type, malformed JSON, wrong key
// length, an SA the engine refuses, a packet no SA selects) gets an error
// naming the record, and nothing is written: all outputs go to temporary
// files that are renamed into place only after the whole run succeeded.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "inlinesec/abi/abi.h"
#include "inlinesec/common/clock.h"
#include "inlinesec/common/guarded_main.h"
#include "inlinesec/common/secure_bytes.h"
#include "inlinesec/driver/device.h"
#include "inlinesec/driver/model_transport.h"
#include "inlinesec/model/engine.h"
#include "inlinesec/sdk/events.h"
#include "pcap_file.h"
#include "sa_config.h"

namespace inlinesec::tools {
namespace {

using nlohmann::json;

// The engine's clock during a replay: set to each packet's capture time, and
// ticking one nanosecond per reading so that deadlines always pass.
class ReplayClock final : public Clock {
 public:
  TimePoint Now() const override {
    now_ = now_ + std::chrono::nanoseconds(1);
    return now_;
  }
  void AdvanceTo(TimePoint t) {
    if (t > now_) now_ = t;
  }

 private:
  mutable TimePoint now_{std::chrono::seconds(1)};
};

Result<std::vector<std::uint8_t>> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, "cannot open " + path);
  std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(in)),
                                 std::istreambuf_iterator<char>());
  return data;
}

std::string IpString(const sdk::IpAddress& a) { return a.ToString(); }

std::string HexBytes(std::span<const std::uint8_t> b) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  for (auto x : b) {
    s.push_back(kDigits[x >> 4]);
    s.push_back(kDigits[x & 15]);
  }
  return s;
}

json EventJson(const sdk::Event& ev, std::size_t record) {
  const auto& p = ev.packet;
  json j{{"record", record},
         {"reason", std::string(sdk::EventKindName(ev.kind))},
         {"direction", p.outbound ? "outbound" : "inbound"},
         {"spi", p.spi},
         {"seq", p.seq},
         {"timestamp_ns", p.timestamp_ns},
         {"orig_len", p.orig_len},
         {"src", IpString(p.src)},
         {"dst", IpString(p.dst)},
         {"snapshot", HexBytes(p.snapshot())}};
  if (p.sa_index) j["sa_index"] = *p.sa_index;
  if (p.udp_encap) {
    j["sport"] = p.sport;
    j["dport"] = p.dport;
  }
  return j;
}

// Writes `data` to a temporary file next to `path`; Commit() renames it.
class PendingFile {
 public:
  explicit PendingFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {}
  ~PendingFile() {
    std::error_code ec;
    if (!committed_) std::filesystem::remove(tmp_, ec);
  }
  Status Write(std::span<const std::uint8_t> data) {
    std::ofstream out(tmp_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
    out.close();
    if (!out) return Status(Code::kInternal, "cannot write " + tmp_);
    return Status::Ok();
  }
  Status Commit() {
    std::error_code ec;
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) return Status(Code::kInternal, "cannot rename " + tmp_ + ": " + ec.message());
    committed_ = true;
    return Status::Ok();
  }

 private:
  std::string path_, tmp_;
  bool committed_ = false;
};

struct Options {
  std::string sa_path, in_path, out_path, exq_path, table_path;
  std::string direction = "inbound";
  long long tx_sa = -1;
  bool keep_bypass = true;
};

Status Run(const Options& opt) {
  auto sa_text = ReadFile(opt.sa_path);
  if (!sa_text.ok()) return sa_text.status();
  std::string text(sa_text->begin(), sa_text->end());
  SecureWipe(*sa_text);
  auto sas = ParseSaFile(text);
  SecureWipe({reinterpret_cast<std::uint8_t*>(text.data()), text.size()});
  if (!sas.ok()) return Status(sas.status().code(), opt.sa_path + ": " + sas.status().message());

  auto pcap_bytes = ReadFile(opt.in_path);
  if (!pcap_bytes.ok()) return pcap_bytes.status();
  auto packets = ParsePcap(*pcap_bytes);
  if (!packets.ok()) {
    return Status(packets.status().code(), opt.in_path + ": " + packets.status().message());
  }
  const bool outbound = opt.direction == "outbound";

  ReplayClock clock;
  if (!packets->empty()) clock.AdvanceTo(TimePoint{std::chrono::nanoseconds((*packets)[0].ts_ns)});
  auto dev = driver::Device::Open("model:capacity=" + std::to_string(sas->capacity), clock);
  if (!dev.ok()) return dev.status();
  driver::Device& d = **dev;
  auto* model = dynamic_cast<driver::ModelTransport*>(&d.transport());
  if (model == nullptr) return Status(Code::kInternal, "model transport expected");

  // Program every SA; on a refusal name the SA the engine refused.
  const std::size_t max_batch = d.caps().max_batch;
  for (std::size_t first = 0; first < sas->sas.size(); first += max_batch) {
    std::vector<abi::SaWriteRecord> batch;
    for (std::size_t i = first; i < sas->sas.size() && i < first + max_batch; ++i) {
      batch.push_back(sas->sas[i].record);
    }
    auto outcome = d.WriteSaBatch(batch);
    for (auto& r : batch) SecureWipe(r.entry.key);
    if (!outcome.ok()) return outcome.status();
    if (outcome->applied != batch.size()) {
      const auto& bad = sas->sas[first + outcome->failed_record];
      for (auto& s : sas->sas) SecureWipe(s.record.entry.key);
      return Status(Code::kInvalidArgument,
                    opt.sa_path + ": " + bad.name + ": the engine refused it: " +
                        std::string(driver::CmdStatusName(
                            static_cast<abi::CmdStatus>(outcome->status.device_status()))));
    }
  }
  for (auto& s : sas->sas) SecureWipe(s.record.entry.key);

  sdk::ExceptionConsumer consumer(d);
  std::vector<PcapPacket> out_packets;
  std::string exq_lines;
  std::vector<sdk::Event> events;
  std::vector<std::uint8_t> buf(model::kTxHeadroom + kPcapMaxSnap + model::kTxTailroom);
  for (std::size_t n = 0; n < packets->size(); ++n) {
    const PcapPacket& in = (*packets)[n];
    clock.AdvanceTo(TimePoint{std::chrono::nanoseconds(in.ts_ns)});
    model::Frame f{buf, model::kTxHeadroom, in.ip.size()};
    std::copy(in.ip.begin(), in.ip.end(), buf.begin() + model::kTxHeadroom);
    bool emit = false;
    if (outbound) {
      std::uint32_t sa = 0;
      if (opt.tx_sa >= 0) {
        sa = static_cast<std::uint32_t>(opt.tx_sa);
      } else {
        abi::IpAddr dst{};
        const bool v6 = (in.ip[0] >> 4) == 6;
        const std::size_t off = v6 ? 24 : 16, len = v6 ? 16 : 4;
        if (in.ip.size() < off + len) {
          return Status(Code::kParseError, opt.in_path + ": pcap record " + std::to_string(n) +
                                               ": IP header too short to select an SA");
        }
        std::copy(in.ip.begin() + off, in.ip.begin() + off + len, dst.begin());
        const SaSpec* chosen = nullptr;
        for (const auto& s : sas->sas) {
          if (s.match && s.match->Contains(dst, v6)) {
            chosen = &s;
            break;
          }
        }
        if (chosen == nullptr) {
          return Status(Code::kNotFound, opt.in_path + ": pcap record " + std::to_string(n) +
                                             ": no outbound SA's \"match\" selects it (give "
                                             "--tx-sa or a match prefix)");
        }
        sa = chosen->record.index.get();
      }
      abi::TxMeta tx{};
      tx.sa_index.set(sa);
      tx.flags.set(abi::tx_flags::Offload::Set(0, 1));
      emit = model->WithEngine([&](model::Engine& e) { return e.Transmit(tx, f); }) ==
             abi::ExqReason::kNone;
    } else {
      const abi::RxMeta rx = model->WithEngine([&](model::Engine& e) { return e.Receive(f); });
      const auto st = static_cast<abi::RxStatus>(abi::rx_ctl::Status::Get(rx.ctl.get()));
      emit = st == abi::RxStatus::kDecrypted ||
             (opt.keep_bypass && (st == abi::RxStatus::kBypass || st == abi::RxStatus::kIkeToHost));
    }
    if (emit) {
      PcapPacket o;
      o.ts_ns = in.ts_ns;
      const auto b = f.bytes();
      o.ip.assign(b.begin(), b.end());
      o.orig_len = static_cast<std::uint32_t>(o.ip.size());
      out_packets.push_back(std::move(o));
    }
    events.clear();
    auto polled = consumer.Poll(events, 1024);
    if (!polled.ok()) return polled.status();
    for (const auto& ev : events) exq_lines += EventJson(ev, n).dump() + "\n";
  }
  if (consumer.stats().corrupt != 0) {
    return Status(Code::kDataLoss, "the engine wrote corrupt exception entries");
  }

  json table = json::array();
  for (const auto& s : sas->sas) {
    auto st = d.ReadSa(s.record.index.get());
    if (!st.ok()) return st.status();
    const std::uint32_t state = st->state.get();
    table.push_back({{"name", s.name},
                     {"index", s.record.index.get()},
                     {"spi", st->spi.get()},
                     {"dir", abi::sa_ctl::Dir::Get(st->ctl.get()) ? "out" : "in"},
                     {"seq", st->seq.get()},
                     {"packets", st->packets.get()},
                     {"bytes", st->bytes.get()},
                     {"replay_drops", st->replay_drops.get()},
                     {"auth_fails", st->auth_fails.get()},
                     {"soft_expired", abi::sa_state::SoftExpired::Get(state) != 0},
                     {"hard_expired", abi::sa_state::HardExpired::Get(state) != 0},
                     {"seq_overflow", abi::sa_state::SeqOverflow::Get(state) != 0}});
  }

  // Everything succeeded: write all outputs, then move them into place.
  PendingFile out_file(opt.out_path);
  INLINESEC_RETURN_IF_ERROR(out_file.Write(WritePcap(out_packets)));
  std::vector<PendingFile> extra;
  extra.reserve(2);
  if (!opt.exq_path.empty()) {
    extra.emplace_back(opt.exq_path);
    INLINESEC_RETURN_IF_ERROR(extra.back().Write(
        {reinterpret_cast<const std::uint8_t*>(exq_lines.data()), exq_lines.size()}));
  }
  if (!opt.table_path.empty()) {
    const std::string t = table.dump(2) + "\n";
    extra.emplace_back(opt.table_path);
    INLINESEC_RETURN_IF_ERROR(
        extra.back().Write({reinterpret_cast<const std::uint8_t*>(t.data()), t.size()}));
  }
  INLINESEC_RETURN_IF_ERROR(out_file.Commit());
  for (auto& e : extra) INLINESEC_RETURN_IF_ERROR(e.Commit());
  std::printf("%zu packets in, %zu out, %zu exception entries, %zu SAs\n", packets->size(),
              out_packets.size(),
              static_cast<std::size_t>(std::count(exq_lines.begin(), exq_lines.end(), '\n')),
              sas->sas.size());
  return Status::Ok();
}

}  // namespace
}  // namespace inlinesec::tools

namespace {

int Run(int argc, char** argv) {
  inlinesec::tools::Options opt;
  CLI::App app{"inlinesec-model-pcap: run a pcap through the inlinesec engine model"};
  app.add_option("--sas", opt.sa_path, "SA file (JSON, docs/tools/model_pcap.md)")->required();
  app.add_option("--in", opt.in_path, "input pcap")->required();
  app.add_option("--out", opt.out_path, "output pcap (raw IP)")->required();
  app.add_option("--direction", opt.direction, "inbound or outbound")
      ->check(CLI::IsMember({"inbound", "outbound"}));
  app.add_option("--exceptions", opt.exq_path, "exception entries as JSON lines");
  app.add_option("--table", opt.table_path, "SA table state after the run (JSON)");
  app.add_option("--tx-sa", opt.tx_sa, "outbound: SA index for every packet");
  app.add_flag("!--drop-bypass", opt.keep_bypass,
               "inbound: do not copy non-ESP (and IKE) packets to the output");
  CLI11_PARSE(app, argc, argv);
  const inlinesec::Status st = inlinesec::tools::Run(opt);
  if (!st.ok()) {
    std::fprintf(stderr, "inlinesec-model-pcap: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return inlinesec::GuardedMain("inlinesec-model-pcap", [&] { return Run(argc, argv); });
}
