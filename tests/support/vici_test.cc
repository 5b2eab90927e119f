// VICI message codec: what the writer builds the parser reads back, and
// malformed messages from the daemon are rejected rather than trusted.
#include "vici.h"

#include <gtest/gtest.h>

namespace inlinesec::testing {
namespace {

TEST(ViciCodec, RoundTripsNestedSectionsListsAndValues) {
  ViciWriter w;
  w.Begin("conn").Kv("version", "2").List("local_addrs", {"192.168.77.1", "fd00::1"});
  w.Begin("children").Begin("c").Kv("mode", "tunnel").End().End().End();
  w.Kv("success", "yes");
  auto msg = ParseViciMessage(w.bytes());
  ASSERT_TRUE(msg.ok()) << msg.status().ToString();
  EXPECT_EQ(msg->Get("success"), "yes");
  const ViciSection* conn = msg->Section("conn");
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(conn->Get("version"), "2");
  ASSERT_NE(conn->List("local_addrs"), nullptr);
  EXPECT_EQ(conn->List("local_addrs")->at(1), "fd00::1");
  const ViciSection* c = msg->Find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->Get("mode"), "tunnel");
}

TEST(ViciCodec, GoldenBytesOfAKeyValue) {
  ViciWriter w;
  w.Kv("a", "xy");
  const std::vector<std::uint8_t> expect{3, 1, 'a', 0, 2, 'x', 'y'};
  EXPECT_EQ(w.bytes(), expect);
}

TEST(ViciCodec, RejectsMalformedMessages) {
  // Section never closed, value longer than the message, unknown element,
  // list item outside a list, stray section end at top level.
  const std::vector<std::vector<std::uint8_t>> bad{
      {1, 1, 's'}, {3, 1, 'k', 0, 9, 'v'}, {9}, {5, 0, 1, 'x'}, {2}, {4, 1, 'l', 5, 0, 1},
  };
  for (const auto& b : bad) {
    EXPECT_FALSE(ParseViciMessage(b).ok()) << "accepted " << b.size() << " bytes";
  }
}

}  // namespace
}  // namespace inlinesec::testing
