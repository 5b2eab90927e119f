// Fifo<T>: oldest first, across the compaction of the taken front and the
// reset when it runs empty; move-only items.
#include "inlinesec/common/fifo.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

namespace inlinesec {
namespace {

TEST(Fifo, HandsItemsBackOldestFirst) {
  Fifo<std::uint32_t> q;
  EXPECT_TRUE(q.empty());
  for (std::uint32_t i = 0; i < 5; ++i) q.Push(i);
  EXPECT_EQ(q.size(), 5u);
  for (std::uint32_t i = 0; i < 5; ++i) EXPECT_EQ(q.Pop(), i);
  EXPECT_TRUE(q.empty());
  q.Push(7);  // usable again after running empty
  EXPECT_EQ(q.Pop(), 7u);
}

TEST(Fifo, KeepsOrderWhenPushAndPopInterleave) {
  // Never empty, so the taken front is compacted away while items remain.
  Fifo<std::uint32_t> q;
  std::uint32_t next_in = 0, next_out = 0;
  for (int i = 0; i < 10; ++i) q.Push(next_in++);
  for (int round = 0; round < 5000; ++round) {
    q.Push(next_in++);
    q.Push(next_in++);
    ASSERT_EQ(q.Pop(), next_out++);
    ASSERT_EQ(q.Pop(), next_out++);
    ASSERT_EQ(q.size(), 10u);
  }
  while (!q.empty()) ASSERT_EQ(q.Pop(), next_out++);
  EXPECT_EQ(next_out, next_in);
}

TEST(Fifo, MovesOwnershipThrough) {
  Fifo<std::unique_ptr<int>> q;
  q.Push(std::make_unique<int>(1));
  q.Push(std::make_unique<int>(2));
  EXPECT_EQ(*q.Pop(), 1);
  q.Clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
}

}  // namespace
}  // namespace inlinesec
