// ByteReader: bounded reads that advance only on success.
#include "inlinesec/common/byte_reader.h"

#include <gtest/gtest.h>

#include <array>

#include "inlinesec/common/byte_writer.h"

namespace inlinesec {
namespace {

TEST(ByteReader, ReadsNetworkOrderAndLittleEndian) {
  const std::array<std::uint8_t, 14> bytes{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                           0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e};
  ByteReader r(bytes);
  std::uint16_t a = 0;
  std::uint32_t b = 0, c = 0;
  std::uint32_t d = 0;
  ASSERT_TRUE(r.U16(a));
  ASSERT_TRUE(r.U32(b));
  ASSERT_TRUE(r.U32Le(c));
  ASSERT_TRUE(r.U32(d));
  EXPECT_EQ(a, 0x0102);
  EXPECT_EQ(b, 0x03040506u);
  EXPECT_EQ(c, 0x0a090807u);
  EXPECT_EQ(d, 0x0b0c0d0eu);
  EXPECT_TRUE(r.empty());
}

TEST(ByteReader, FailedReadDoesNotAdvance) {
  const std::array<std::uint8_t, 3> bytes{0xaa, 0xbb, 0xcc};
  ByteReader r(bytes);
  std::uint32_t v = 0x12345678;
  EXPECT_FALSE(r.U32(v));
  EXPECT_EQ(v, 0x12345678u);
  EXPECT_EQ(r.size(), 3u);
  ByteReader sub{{}};
  EXPECT_FALSE(r.Sub(4, sub));
  EXPECT_EQ(r.size(), 3u);
  ASSERT_TRUE(r.Sub(2, sub));
  EXPECT_EQ(sub.size(), 2u);
  EXPECT_EQ(r.size(), 1u);
  std::uint8_t x = 0;
  ASSERT_TRUE(r.U8(x));
  EXPECT_EQ(x, 0xcc);
  EXPECT_FALSE(r.U8(x));
  EXPECT_FALSE(r.Skip(1));
}

TEST(ByteWriter, RoundTripsThroughReaderWithPatchedLength) {
  ByteWriter w;
  w.U8(0x21);
  w.U16(0);  // length placeholder
  w.U64(0x0102030405060708ull);
  w.Zeros(2);
  w.PatchU16(1, static_cast<std::uint16_t>(w.size()));
  ByteReader r(w.buf());
  std::uint8_t t = 0;
  std::uint16_t len = 0;
  std::uint64_t v = 0;
  ASSERT_TRUE(r.U8(t) && r.U16(len) && r.U64(v) && r.Skip(2));
  EXPECT_EQ(len, 13);
  EXPECT_EQ(v, 0x0102030405060708ull);
}

}  // namespace
}  // namespace inlinesec
