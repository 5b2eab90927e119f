// SecureBytes: ownership, constant-time compare, and wipe-on-clear.
#include "inlinesec/common/secure_bytes.h"

#include <gtest/gtest.h>

#include <array>
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

}  // namespace
}  // namespace inlinesec
