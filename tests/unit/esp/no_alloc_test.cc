// The datapath allocates nothing per packet: once the SAs are written (their
// AEAD contexts keyed), Engine::Transmit and Engine::Receive run on the SA's
// ready context. Every OpenSSL allocation (CRYPTO_set_mem_functions, set in
// main before OpenSSL allocates anything) and every C++ operator new in this
// binary is counted while packets of several sizes go out and come back in,
// including replays and ICV failures (exceptions go to the device ring).
// Creating an EVP context or a cipher fetch that allocates would show here.
#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "esp_harness.h"

namespace {

std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_crypto_allocs{0};
std::atomic<std::uint64_t> g_new_allocs{0};

void* CountingMalloc(std::size_t n, const char*, int) {
  if (g_counting.load(std::memory_order_relaxed)) g_crypto_allocs.fetch_add(1);
  return std::malloc(n);
}
void* CountingRealloc(void* p, std::size_t n, const char*, int) {
  if (g_counting.load(std::memory_order_relaxed)) g_crypto_allocs.fetch_add(1);
  return std::realloc(p, n);
}
void CountingFree(void* p, const char*, int) { std::free(p); }

void* CountedNew(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_new_allocs.fetch_add(1);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}

}  // namespace

// Replacements of the global allocation functions for this test binary.
void* operator new(std::size_t n) { return CountedNew(n); }
void* operator new[](std::size_t n) { return CountedNew(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace inlinesec::esp_test {
namespace {

using abi::ExqReason;
using abi::RxStatus;

// Counts allocations in its scope.
class Counting {
 public:
  Counting() {
    g_crypto_allocs = 0;
    g_new_allocs = 0;
    g_counting = true;
  }
  ~Counting() { g_counting = false; }
  Counting(const Counting&) = delete;
  Counting& operator=(const Counting&) = delete;
  std::uint64_t crypto() const { return g_crypto_allocs.load(); }
  std::uint64_t cxx() const { return g_new_allocs.load(); }
};

TEST(EspNoAllocation, TheCountersSeeAllocations) {
  // The hooks are live: without this the test below could not fail.
  std::uint64_t crypto = 0, cxx = 0;
  {
    Counting c;
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    auto* v = new std::vector<int>(4);
    crypto = c.crypto();
    cxx = c.cxx();
    delete v;
    EVP_CIPHER_CTX_free(ctx);
  }
  EXPECT_GE(crypto, 1u);
  EXPECT_GE(cxx, 1u);
}

TEST(EspNoAllocation, PacketsAllocateNothingOnceTheSasAreWritten) {
  for (const abi::Algo algo :
       {abi::Algo::kAesGcm128, abi::Algo::kAesGcm256, abi::Algo::kChaCha20Poly1305}) {
    SCOPED_TRACE(static_cast<int>(algo));
    ModelHarness h;
    SaSpec s;
    s.spi = 0x2001;
    s.algo = algo;
    s.window = 64;
    constexpr std::uint32_t kOut = 7;  // the inbound SA sits at spi mod capacity = 1
    h.Install(s, kOut);
    h.Install(Inbound(s));

    // Every buffer exists before counting starts.
    const std::vector<Bytes> inners = {Ipv4Udp(36), Ipv4Udp(484), Ipv4Udp(1422)};
    std::vector<std::unique_ptr<PacketBuf>> bufs;
    for (const Bytes& in : inners) bufs.push_back(std::make_unique<PacketBuf>(in));
    Bytes replay_copy(model::kTxHeadroom + 2048 + model::kTxTailroom);

    int decrypted = 0, replays = 0, icv_failures = 0;
    Counting c;
    for (int round = 0; round < 100; ++round) {
      for (std::size_t i = 0; i < inners.size(); ++i) {
        PacketBuf& b = *bufs[i];
        std::copy(inners[i].begin(), inners[i].end(), b.storage.begin() + model::kTxHeadroom);
        b.frame.off = model::kTxHeadroom;
        b.frame.len = inners[i].size();
        if (h.engine().Transmit(TxFor(kOut), b.frame) != ExqReason::kNone) continue;
        // The same wire image again later: a replay.
        const std::size_t wire_off = b.frame.off, wire_len = b.frame.len;
        std::copy(b.storage.begin() + static_cast<std::ptrdiff_t>(wire_off),
                  b.storage.begin() + static_cast<std::ptrdiff_t>(wire_off + wire_len),
                  replay_copy.begin());
        if (StatusOf(h.engine().Receive(b.frame)) == RxStatus::kDecrypted) ++decrypted;
        std::copy(replay_copy.begin(), replay_copy.begin() + static_cast<std::ptrdiff_t>(wire_len),
                  b.storage.begin() + static_cast<std::ptrdiff_t>(wire_off));
        b.frame.off = wire_off;
        b.frame.len = wire_len;
        if (ReasonOf(h.engine().Receive(b.frame)) == ExqReason::kReplay) ++replays;
      }
      // Every tenth round, one packet with a flipped ICV byte.
      if (round % 10 == 0) {
        PacketBuf& b = *bufs[0];
        std::copy(inners[0].begin(), inners[0].end(), b.storage.begin() + model::kTxHeadroom);
        b.frame.off = model::kTxHeadroom;
        b.frame.len = inners[0].size();
        if (h.engine().Transmit(TxFor(kOut), b.frame) != ExqReason::kNone) continue;
        b.storage[b.frame.off + b.frame.len - 1] ^= 0x01;
        if (ReasonOf(h.engine().Receive(b.frame)) == ExqReason::kIcvFail) ++icv_failures;
      }
    }
    const std::uint64_t crypto = c.crypto(), cxx = c.cxx();
    EXPECT_EQ(decrypted, 300);
    EXPECT_EQ(replays, 300);
    EXPECT_EQ(icv_failures, 10);
    EXPECT_EQ(crypto, 0u) << "OpenSSL allocations during 710 packets";
    EXPECT_EQ(cxx, 0u) << "operator new calls during 710 packets";
  }
}

}  // namespace
}  // namespace inlinesec::esp_test

int main(int argc, char** argv) {
  // Before anything in OpenSSL allocates: the hooks can be set only once.
  if (CRYPTO_set_mem_functions(CountingMalloc, CountingRealloc, CountingFree) != 1) {
    std::fprintf(stderr, "CRYPTO_set_mem_functions refused (OpenSSL allocated already)\n");
    return 1;
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
