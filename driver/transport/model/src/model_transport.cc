// ModelTransport implementation: the engine behind a mutex, stepped or on its
// own thread, a first-fit allocator over device memory and an eventfd that
// mirrors the interrupt line. See model_transport.h.
#include "inlinesec/driver/model_transport.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>

namespace inlinesec::driver {
namespace {

constexpr std::uint64_t kAlign = abi::kRingAlign;
constexpr auto kThreadTick = std::chrono::milliseconds(1);

bool IsDoorbell(RegOffset off) {
  return off == abi::RingOff(abi::Reg::kCmdRing, abi::RingReg::kProd) ||
         off == abi::RingOff(abi::Reg::kCplRing, abi::RingReg::kCons) ||
         off == abi::Off(abi::Reg::kCtrl);
}

}  // namespace

Result<ModelTransportOptions> ModelOptionsFromUri(const DeviceUri& uri) {
  ModelTransportOptions o;
  for (const auto& [key, value] : uri.options) {
    Result<std::uint64_t> v = ParseUintOption(key, value);
    if (!v.ok()) return v.status();
    if (key == "capacity") {
      o.engine.sa_capacity = static_cast<std::uint32_t>(*v);
    } else if (key == "threaded") {
      if (*v > 1) return Status(Code::kInvalidArgument, "option 'threaded' takes 0 or 1");
      o.threaded = *v == 1;
    } else if (key == "max_batch") {
      o.engine.max_batch = static_cast<std::uint32_t>(*v);
    } else if (key == "ring_log2_max") {
      o.engine.ring_log2_max = static_cast<std::uint32_t>(*v);
    } else if (key == "replay_window_max") {
      o.engine.replay_window_max = static_cast<std::uint32_t>(*v);
    } else if (key == "dev_mem_bytes") {
      o.engine.dev_mem_bytes = *v;
    } else if (key == "algos") {
      o.engine.algos = static_cast<std::uint32_t>(*v);
    } else if (key == "features") {
      o.engine.features = static_cast<std::uint32_t>(*v);
    } else {
      return Status(Code::kInvalidArgument,
                    "model: unknown option '" + key +
                        "' (known: capacity, threaded, max_batch, ring_log2_max, "
                        "replay_window_max, dev_mem_bytes, algos, features)");
    }
    if (*v > 0xFFFFFFFFull && key != "dev_mem_bytes") {
      return Status(Code::kInvalidArgument, "model: option '" + key + "' out of range");
    }
  }
  return o;
}

ModelTransport::ModelTransport(const ModelTransportOptions& options, const Clock& clock)
    : options_(options), engine_(std::make_unique<model::Engine>(options.engine, clock)) {
  std::uint64_t base = (options.engine.dev_mem_base + kAlign - 1) & ~(kAlign - 1);
  std::uint64_t end = options.engine.dev_mem_base + options.engine.dev_mem_bytes;
  if (end > base) free_.emplace(base, static_cast<std::size_t>(end - base));
}

Result<std::unique_ptr<ModelTransport>> ModelTransport::Create(const ModelTransportOptions& options,
                                                               const Clock& clock) {
  Status st = model::Engine::CheckConfig(options.engine);
  if (!st.ok()) return Status(st.code(), "model: " + st.message());
  std::unique_ptr<ModelTransport> t(new ModelTransport(options, clock));
  t->irq_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (t->irq_fd_ < 0) return Status(Code::kInternal, "model: eventfd failed");
  if (options.threaded) t->thread_ = std::thread([p = t.get()] { p->EngineThread(); });
  return t;
}

ModelTransport::~ModelTransport() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (irq_fd_ >= 0) close(irq_fd_);
}

std::string ModelTransport::Describe() const {
  return "model(capacity=" + std::to_string(options_.engine.sa_capacity) +
         (options_.threaded ? ",threaded)" : ",stepped)");
}

void ModelTransport::SignalIrqLocked() {
  if (engine_->IrqAsserted()) {
    irq_cv_.notify_all();
    std::uint64_t one = 1;
    // A full counter or EAGAIN only means the fd is readable already.
    (void)!write(irq_fd_, &one, sizeof(one));
  }
}

void ModelTransport::AfterEngineAccessLocked() {
  if (!options_.threaded) engine_->ProcessCommands();
  SignalIrqLocked();
  if (options_.threaded) {
    work_ = true;
    work_cv_.notify_all();
  }
}

void ModelTransport::EngineThread() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    work_cv_.wait_for(lock, kThreadTick, [this] { return work_ || stop_; });
    if (stop_) break;
    work_ = false;
    engine_->ProcessCommands();
    SignalIrqLocked();
  }
}

std::uint32_t ModelTransport::Read32(RegOffset off) {
  std::lock_guard<std::mutex> lock(mu_);
  return engine_->Read32(off);
}

void ModelTransport::Write32(RegOffset off, std::uint32_t value) {
  std::lock_guard<std::mutex> lock(mu_);
  engine_->Write32(off, value);
  if (options_.threaded && IsDoorbell(off)) {
    work_ = true;
    work_cv_.notify_all();
  }
}

Result<DmaBuffer> ModelTransport::AllocDma(std::size_t bytes) {
  if (bytes == 0) return Status(Code::kInvalidArgument, "model: zero-byte DMA buffer");
  std::size_t want = (bytes + kAlign - 1) & ~(kAlign - 1);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < want) continue;
    DevAddr addr = it->first;
    std::size_t left = it->second - want;
    free_.erase(it);
    if (left != 0) free_.emplace(addr + want, left);
    used_.emplace(addr, want);
    return DmaBuffer{addr, want};
  }
  return Status(Code::kResourceExhausted,
                "model: device memory exhausted (" + std::to_string(bytes) + " bytes wanted)");
}

Status ModelTransport::FreeDma(const DmaBuffer& buffer) {
  std::lock_guard<std::mutex> lock(mu_);
  auto u = used_.find(buffer.addr);
  if (u == used_.end()) return Status(Code::kNotFound, "model: FreeDma of unknown buffer");
  DevAddr addr = u->first;
  std::size_t size = u->second;
  used_.erase(u);
  auto next = free_.lower_bound(addr);
  if (next != free_.end() && addr + size == next->first) {
    size += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == addr) {
      prev->second += size;
      return Status::Ok();
    }
  }
  free_.emplace(addr, size);
  return Status::Ok();
}

Status ModelTransport::DmaToDevice(DevAddr dst, std::span<const std::uint8_t> src) {
  std::lock_guard<std::mutex> lock(mu_);
  return engine_->DevWrite(dst, src);
}

Status ModelTransport::DmaFromDevice(DevAddr src, std::span<std::uint8_t> dst) {
  std::lock_guard<std::mutex> lock(mu_);
  return engine_->DevRead(src, dst);
}

Status ModelTransport::WaitIrq(Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!options_.threaded) {
    engine_->ProcessCommands();
    SignalIrqLocked();
    return engine_->IrqAsserted() ? Status::Ok()
                                  : Status(Code::kDeadlineExceeded, "model: no interrupt");
  }
  if (irq_cv_.wait_for(lock, timeout, [this] { return engine_->IrqAsserted() || stop_; }) &&
      !stop_) {
    return Status::Ok();
  }
  return Status(Code::kDeadlineExceeded, "model: no interrupt before timeout");
}

void ModelTransport::Kick() {
  std::lock_guard<std::mutex> lock(mu_);
  if (options_.threaded) {
    work_ = true;
    work_cv_.notify_all();
    return;
  }
  engine_->ProcessCommands();
  SignalIrqLocked();
}

}  // namespace inlinesec::driver
