// Randomness as an injected dependency (DESIGN.md decision 6): SPIs, nonces,
// IVs, cookies secrets and X25519 private keys come from a Random. Production
// uses OsRandom (OpenSSL's DRBG); tests use DeterministicRandom so that two
// in-process peers behave the same on every run.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace inlinesec::ike {

class Random {
 public:
  virtual ~Random() = default;
  virtual void Fill(std::span<std::uint8_t> out) = 0;

  std::uint64_t U64();
  std::uint32_t U32();
  std::vector<std::uint8_t> Bytes(std::size_t n);
};

// RAND_bytes; aborts if the DRBG fails (no safe way to continue).
class OsRandom final : public Random {
 public:
  void Fill(std::span<std::uint8_t> out) override;
};

// SHA-256 in counter mode over a seed: reproducible, NOT for production.
class DeterministicRandom final : public Random {
 public:
  explicit DeterministicRandom(std::uint64_t seed) : seed_(seed) {}
  void Fill(std::span<std::uint8_t> out) override;

 private:
  std::uint64_t seed_;
  std::uint64_t counter_ = 0;
};

}  // namespace inlinesec::ike
