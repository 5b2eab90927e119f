// ModelTransport: Transport over the in-process bit-accurate engine
// (model::Engine). Two modes:
//  - stepped (default): deterministic. A doorbell only records work; the
//    engine runs when the driver calls Kick() or WaitIrq(), on the caller's
//    thread. Nothing happens behind the caller's back.
//  - threaded: the engine runs on its own thread like a card, woken by
//    doorbells (and every millisecond); WaitIrq blocks on a condition
//    variable until the interrupt line rises or the timeout passes.
// Either way every access to the engine is serialised by one mutex. DMA
// buffers are carved out of the engine's device memory by a first-fit
// allocator. Datapath calls (Transmit/Receive) and fault plans go through
// WithEngine(), which holds the same mutex and raises the irq fd afterwards.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "inlinesec/driver/transport.h"
#include "inlinesec/driver/uri.h"
#include "inlinesec/model/engine.h"

namespace inlinesec::driver {

struct ModelTransportOptions {
  model::EngineConfig engine;
  bool threaded = false;
};

// Reads "model:" URI options: capacity, threaded, max_batch, ring_log2_max,
// replay_window_max, dev_mem_bytes. Unknown keys are errors.
[[nodiscard]] Result<ModelTransportOptions> ModelOptionsFromUri(const DeviceUri& uri);

class ModelTransport final : public Transport {
 public:
  [[nodiscard]] static Result<std::unique_ptr<ModelTransport>> Create(
      const ModelTransportOptions& options, const Clock& clock);
  ~ModelTransport() override;

  std::string Describe() const override;
  std::uint32_t Read32(RegOffset off) override;
  void Write32(RegOffset off, std::uint32_t value) override;
  Result<DmaBuffer> AllocDma(std::size_t bytes) override;
  Status FreeDma(const DmaBuffer& buffer) override;
  Status DmaToDevice(DevAddr dst, std::span<const std::uint8_t> src) override;
  Status DmaFromDevice(DevAddr src, std::span<std::uint8_t> dst) override;
  Status WaitIrq(Duration timeout) override;
  void Kick() override;
  int IrqFd() const override { return irq_fd_; }

  bool threaded() const { return options_.threaded; }

  // Runs fn(model::Engine&) with exclusive access to the engine (packets,
  // fault plans, inspection), then processes pending commands if stepped and
  // signals the irq fd if the line is up.
  template <typename F>
  auto WithEngine(F&& fn) {
    std::unique_lock<std::mutex> lock(mu_);
    struct After {
      ModelTransport* t;
      ~After() { t->AfterEngineAccessLocked(); }
    } after{this};
    return std::forward<F>(fn)(*engine_);
  }

 private:
  ModelTransport(const ModelTransportOptions& options, const Clock& clock);
  void EngineThread();
  void AfterEngineAccessLocked();
  void SignalIrqLocked();

  ModelTransportOptions options_;
  std::unique_ptr<model::Engine> engine_;
  int irq_fd_ = -1;

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable irq_cv_;
  bool work_ = false;
  bool stop_ = false;
  std::thread thread_;

  // Free device-memory blocks: address -> size (first fit, coalescing).
  std::map<DevAddr, std::size_t> free_;
  std::map<DevAddr, std::size_t> used_;
};

}  // namespace inlinesec::driver
