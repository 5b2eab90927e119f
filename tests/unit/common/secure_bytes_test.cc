// SecureBytes: ownership, constant-time compare, and wipe-on-clear;
// InlineSecureBytes: bounded inline storage wiped on Clear and destruction.
#include "inlinesec/common/secure_bytes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <new>
#include <utility>

namespace inlinesec {
namespace {

TEST(SecureBytes, MoveLeavesSourceEmpty) {
  const std::array<std::uint8_t, 4> key{1, 2, 3, 4};
  SecureBytes a(key);
  SecureBytes b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): checked on purpose
  EXPECT_TRUE(b.Equals(key));
  SecureBytes c = b.Clone();
  EXPECT_TRUE(c.Equals(b.span()));
  const std::array<std::uint8_t, 4> other{1, 2, 3, 5};
  EXPECT_FALSE(c.Equals(other));
  EXPECT_FALSE(c.Equals(std::span<const std::uint8_t>(key).first(3)));
}

TEST(SecureWipe, ZeroesTheBuffer) {
  std::array<std::uint8_t, 32> buf;
  buf.fill(0xa5);
  SecureWipe(buf);
  for (auto b : buf) EXPECT_EQ(b, 0);
}

TEST(InlineSecureBytes, HoldsUpToNBytes) {
  InlineSecureBytes<32> k;
  EXPECT_EQ(k.size(), 0u);
  const std::array<std::uint8_t, 32> key32{1, 2, 3};
  const std::array<std::uint8_t, 16> key16{9, 8, 7};
  const std::array<std::uint8_t, 33> key33{};
  ASSERT_TRUE(k.Assign(key32));
  EXPECT_EQ(k.size(), 32u);
  EXPECT_TRUE(std::equal(k.span().begin(), k.span().end(), key32.begin()));
  ASSERT_TRUE(k.Assign(key16));
  EXPECT_EQ(k.size(), 16u);
  EXPECT_TRUE(std::equal(k.span().begin(), k.span().end(), key16.begin()));
  EXPECT_FALSE(k.Assign(key33));
  EXPECT_EQ(k.size(), 0u);
}

TEST(InlineSecureBytes, ClearAndDestructionWipeTheStorage) {
  alignas(InlineSecureBytes<32>) std::byte storage[sizeof(InlineSecureBytes<32>)];
  auto* k = new (storage) InlineSecureBytes<32>();
  std::array<std::uint8_t, 32> key;
  key.fill(0xA5);
  ASSERT_TRUE(k->Assign(key));
  auto count_a5 = [&] {
    int n = 0;
    for (std::byte b : storage) n += b == std::byte{0xA5};
    return n;
  };
  EXPECT_EQ(count_a5(), 32);
  // A shorter key leaves nothing of the longer one behind.
  ASSERT_TRUE(k->Assign(std::span<const std::uint8_t>(key).first(16)));
  EXPECT_EQ(count_a5(), 16);
  k->Clear();
  EXPECT_EQ(count_a5(), 0);
  ASSERT_TRUE(k->Assign(key));
  k->~InlineSecureBytes();
  EXPECT_EQ(count_a5(), 0);
}

}  // namespace
}  // namespace inlinesec
