// Engine::CheckConfig: every EngineConfig limit, and the default config.
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "inlinesec/model/engine.h"

namespace inlinesec::model {
namespace {

TEST(EngineConfig, DefaultIsValid) { EXPECT_TRUE(Engine::CheckConfig(EngineConfig{}).ok()); }

TEST(EngineConfig, EdgesThatAreValid) {
  const std::vector<std::function<void(EngineConfig&)>> ok = {
      [](EngineConfig& c) { c.sa_capacity = 16; },
      [](EngineConfig& c) { c.sa_capacity = 1u << 24; },
      [](EngineConfig& c) { c.replay_window_max = 32; },
      [](EngineConfig& c) { c.replay_window_max = 4096; },
      [](EngineConfig& c) { c.max_batch = 1; },
      [](EngineConfig& c) { c.ring_log2_max = 4; },
      [](EngineConfig& c) { c.dev_mem_bytes = 4096; },
      [](EngineConfig& c) { c.dev_mem_base = 0; },
      [](EngineConfig& c) { c.algos = abi::AlgoBit(abi::Algo::kChaCha20Poly1305); },
      [](EngineConfig& c) { c.features = 0; },
  };
  for (std::size_t i = 0; i < ok.size(); ++i) {
    EngineConfig c;
    ok[i](c);
    EXPECT_TRUE(Engine::CheckConfig(c).ok()) << "case " << i;
  }
}

TEST(EngineConfig, InvalidConfigsAreRejected) {
  const std::vector<std::function<void(EngineConfig&)>> bad = {
      [](EngineConfig& c) { c.sa_capacity = 0; },
      [](EngineConfig& c) { c.sa_capacity = 8; },
      [](EngineConfig& c) { c.sa_capacity = 1000; },
      [](EngineConfig& c) { c.sa_capacity = 1u << 25; },
      [](EngineConfig& c) { c.replay_window_max = 0; },
      [](EngineConfig& c) { c.replay_window_max = 48; },
      [](EngineConfig& c) { c.replay_window_max = 4128; },
      [](EngineConfig& c) { c.max_batch = 0; },
      [](EngineConfig& c) { c.max_batch = 65537; },
      [](EngineConfig& c) { c.ring_log2_max = 3; },
      [](EngineConfig& c) { c.ring_log2_max = 25; },
      [](EngineConfig& c) { c.dev_mem_base = 0x1000'0020; },
      [](EngineConfig& c) { c.dev_mem_bytes = 0; },
      [](EngineConfig& c) { c.dev_mem_bytes = 4096 + 8; },
      [](EngineConfig& c) { c.dev_mem_bytes = 1ull << 40; },
      [](EngineConfig& c) { c.dev_mem_base = 0xFFFFFFFFFFFFF000ull; },
      [](EngineConfig& c) { c.algos = 0; },
      [](EngineConfig& c) { c.algos |= abi::AlgoBit(abi::Algo::kAesCbc128HmacSha256); },
      [](EngineConfig& c) { c.algos = abi::AlgoBit(abi::Algo::kNone); },
      [](EngineConfig& c) { c.features = 0x400; },
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    EngineConfig c;
    bad[i](c);
    const Status s = Engine::CheckConfig(c);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << "case " << i;
    EXPECT_FALSE(s.message().empty());
  }
}

}  // namespace
}  // namespace inlinesec::model
