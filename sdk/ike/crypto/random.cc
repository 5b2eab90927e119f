// OsRandom over OpenSSL's DRBG and the reproducible DeterministicRandom.
#include "inlinesec/ike/crypto/random.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>

#include "inlinesec/common/check.h"

namespace inlinesec::ike {

std::uint64_t Random::U64() {
  std::array<std::uint8_t, 8> b;
  Fill(b);
  std::uint64_t v = 0;
  for (auto x : b) v = (v << 8) | x;
  return v;
}

std::uint32_t Random::U32() { return static_cast<std::uint32_t>(U64() >> 32); }

std::vector<std::uint8_t> Random::Bytes(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  Fill(v);
  return v;
}

void OsRandom::Fill(std::span<std::uint8_t> out) {
  if (out.empty()) return;
  INLINESEC_CHECK(RAND_bytes(out.data(), static_cast<int>(out.size())) == 1);
}

void DeterministicRandom::Fill(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    std::array<std::uint8_t, 16> in{};
    for (int i = 0; i < 8; ++i) {
      in[i] = static_cast<std::uint8_t>(seed_ >> (8 * i));
      in[8 + i] = static_cast<std::uint8_t>(counter_ >> (8 * i));
    }
    ++counter_;
    std::array<std::uint8_t, 32> block{};
    unsigned int len = 0;
    INLINESEC_CHECK(EVP_Digest(in.data(), in.size(), block.data(), &len, EVP_sha256(), nullptr) ==
                    1);
    const std::size_t n = std::min<std::size_t>(32, out.size() - done);
    std::copy_n(block.begin(), n, out.begin() + static_cast<std::ptrdiff_t>(done));
    done += n;
  }
}

}  // namespace inlinesec::ike
