// Table tests for esp::ReplayWindow: RFC 4303 §3.4.3 edges for every window
// size 32..4096, Appendix A2 ESN inference across the 2^32 boundary, the
// 64-bit and 32-bit ends of the space, the "moves only on Accept" rule, and a
// seeded random walk checked against a naive set-based model.
#include "inlinesec/model/esp/replay_window.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace inlinesec::model::esp {
namespace {

using V = ReplayWindow::Verdict;

V Check(const ReplayWindow& w, std::uint32_t low, std::uint64_t* full = nullptr) {
  std::uint64_t s = 0;
  const V v = w.Check(low, s);
  if (full) *full = s;
  return v;
}

class WindowSizes : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(WindowSizes, EdgesWithoutEsn) {
  const std::uint32_t w = GetParam();
  const std::uint64_t top = 100000;
  ReplayWindow rw(w, false, top);
  // Everything <= top counts as received at construction.
  EXPECT_EQ(Check(rw, top), V::kReplay);
  EXPECT_EQ(Check(rw, top - w + 1), V::kReplay);  // oldest in-window number
  EXPECT_EQ(Check(rw, top - w), V::kTooOld);      // first one left of the window
  EXPECT_EQ(Check(rw, 0), V::kTooOld);
  EXPECT_EQ(Check(rw, top + 1), V::kOk);
  // Jump ahead by exactly the window: the old top falls out.
  rw.Accept(top + w);
  EXPECT_EQ(rw.top(), top + w);
  EXPECT_EQ(Check(rw, top + w), V::kReplay);
  EXPECT_EQ(Check(rw, top), V::kTooOld);
  for (std::uint64_t s = top + 1; s < top + w; ++s) ASSERT_EQ(Check(rw, s), V::kOk) << s;
  // Accept every other number; the others stay acceptable exactly once.
  for (std::uint64_t s = top + 1; s < top + w; s += 2) rw.Accept(s);
  for (std::uint64_t s = top + 1; s < top + w; ++s)
    ASSERT_EQ(Check(rw, s), (s - top) % 2 == 1 ? V::kReplay : V::kOk) << s;
  // Far jump (more than the ring): nothing old survives in the ring.
  rw.Accept(top + 100 * std::uint64_t{w} + 13);
  const std::uint64_t t2 = rw.top();
  for (std::uint64_t s = t2 - w + 1; s < t2; ++s) ASSERT_EQ(Check(rw, s), V::kOk) << s;
  EXPECT_EQ(Check(rw, t2 - w), V::kTooOld);
}

TEST_P(WindowSizes, EsnWrapAcross2To32) {
  const std::uint32_t w = GetParam();
  const std::uint64_t top = 0xFFFFFFFFull - 5;  // th = 0, near the end of the subspace
  ReplayWindow rw(w, true, top);
  std::uint64_t full = 0;
  // A low value just after the wrap is the next subspace.
  EXPECT_EQ(Check(rw, 3, &full), V::kOk);
  EXPECT_EQ(full, 0x100000003ull);
  rw.Accept(full);
  EXPECT_EQ(rw.top(), 0x100000003ull);
  // Now the window spans two subspaces: low values near 2^32 are th - 1.
  EXPECT_EQ(Check(rw, 0xFFFFFFFFu, &full), V::kOk);
  EXPECT_EQ(full, 0xFFFFFFFFull);
  EXPECT_EQ(Check(rw, 0xFFFFFFFAu, &full), V::kReplay);  // old top, received
  EXPECT_EQ(full, 0xFFFFFFFAull);
  EXPECT_EQ(Check(rw, 3, &full), V::kReplay);
  EXPECT_EQ(Check(rw, 4, &full), V::kOk);
  EXPECT_EQ(full, 0x100000004ull);
  // Just left of the window: RFC 4303 A2.1 infers the next subspace (the ICV
  // then fails, so such a packet never moves the window).
  const std::uint32_t left = static_cast<std::uint32_t>(0x100000003ull - w);
  EXPECT_EQ(Check(rw, left, &full), V::kOk);
  EXPECT_EQ(full, 0x100000003ull - w + 0x100000000ull);
}

INSTANTIATE_TEST_SUITE_P(Sizes, WindowSizes,
                         ::testing::Values(32u, 64u, 96u, 128u, 256u, 1024u, 2048u, 4064u, 4096u));

TEST(ReplayWindow, SequenceZeroIsNeverAccepted) {
  ReplayWindow rw(64, false, 0);
  EXPECT_EQ(Check(rw, 0), V::kReplay);
  EXPECT_EQ(Check(rw, 1), V::kOk);
  ReplayWindow esn(64, true, 0);
  std::uint64_t full = 0;
  EXPECT_EQ(Check(esn, 0, &full), V::kReplay);
  EXPECT_EQ(full, 0u);
  // Low values left of the window with th == 0 would be negative: too old.
  ReplayWindow esn5(64, true, 5);
  EXPECT_EQ(Check(esn5, 0xFFFFFFF0u), V::kTooOld);
}

TEST(ReplayWindow, MovesOnlyOnAccept) {
  ReplayWindow rw(64, false, 10);
  EXPECT_EQ(Check(rw, 500), V::kOk);
  EXPECT_EQ(Check(rw, 500), V::kOk);  // Check is pure
  EXPECT_EQ(rw.top(), 10u);
  EXPECT_EQ(Check(rw, 11), V::kOk);
  rw.Accept(500);
  EXPECT_EQ(rw.top(), 500u);
  EXPECT_EQ(Check(rw, 500), V::kReplay);
  EXPECT_EQ(Check(rw, 11), V::kTooOld);
  EXPECT_EQ(Check(rw, 437), V::kOk);
  rw.Accept(437);
  EXPECT_EQ(Check(rw, 437), V::kReplay);
  EXPECT_EQ(rw.top(), 500u);  // an old number does not move the window
}

TEST(ReplayWindow, EndOfThe32BitSpace) {
  ReplayWindow rw(64, false, 0xFFFFFFFEull);
  EXPECT_EQ(Check(rw, 0xFFFFFFFFu), V::kOk);
  rw.Accept(0xFFFFFFFFull);
  EXPECT_EQ(Check(rw, 0xFFFFFFFFu), V::kReplay);
  EXPECT_EQ(Check(rw, 1), V::kTooOld);  // no wrap without ESN
}

TEST(ReplayWindow, EndOfThe64BitSpace) {
  const std::uint64_t top = ~std::uint64_t{0} - 1;
  ReplayWindow rw(128, true, top);
  std::uint64_t full = 0;
  EXPECT_EQ(Check(rw, 0xFFFFFFFFu, &full), V::kOk);
  EXPECT_EQ(full, ~std::uint64_t{0});
  rw.Accept(full);
  EXPECT_EQ(Check(rw, 0xFFFFFFFFu), V::kReplay);
  EXPECT_EQ(Check(rw, 2), V::kTooOld);  // would be 2^64 + 2
}

TEST(ReplayWindow, DisabledWindowStillInfersEsn) {
  ReplayWindow rw(0, true, 0xFFFFFF00ull);
  std::uint64_t full = 0;
  EXPECT_EQ(Check(rw, 5, &full), V::kOk);
  EXPECT_EQ(full, 0x100000005ull);
  EXPECT_EQ(Check(rw, 0xFFFFFF00u, &full), V::kOk);  // no replay check at all
  EXPECT_EQ(full, 0xFFFFFF00ull);
  rw.Accept(0x100000005ull);
  EXPECT_EQ(rw.top(), 0x100000005ull);
  EXPECT_EQ(Check(rw, 0xFFFFFFF0u, &full), V::kOk);
  EXPECT_EQ(full, 0xFFFFFFF0ull);  // the candidate nearest to top
}

// Random walk: every verdict matches a set of received numbers.
TEST(ReplayWindow, MatchesNaiveModel) {
  for (std::uint32_t w : {32u, 64u, 160u, 1024u, 4096u}) {
    for (bool esn : {false, true}) {
      const std::uint64_t start = esn ? 0xFFFFF000ull : 5000;
      ReplayWindow rw(w, esn, start);
      std::set<std::uint64_t> got;
      std::uint64_t top = start;
      std::mt19937_64 rng(w * 2 + esn);
      for (int i = 0; i < 20000; ++i) {
        const std::int64_t delta =
            static_cast<std::int64_t>(rng() % (3 * w)) - static_cast<std::int64_t>(2 * w);
        const std::uint64_t s =
            static_cast<std::uint64_t>(static_cast<std::int64_t>(top) + delta + 1);
        V want;
        if (s > top) {
          want = V::kOk;
        } else if (top - s >= w) {
          // Without ESN: too old. With ESN, A2.1 reads it as 2^32 ahead.
          want = esn ? V::kOk : V::kTooOld;
        } else {
          want = (s <= start || got.count(s)) ? V::kReplay : V::kOk;
        }
        std::uint64_t full = 0;
        const V v = rw.Check(static_cast<std::uint32_t>(s), full);
        ASSERT_EQ(v, want) << "w=" << w << " esn=" << esn << " s=" << s << " top=" << top;
        if (v == V::kOk && s + w <= top) {
          ASSERT_EQ(full, s + 0x100000000ull);  // the ICV would fail: not accepted
        } else if (v == V::kOk) {
          ASSERT_EQ(full, s);
          if (rng() % 4 != 0) {  // some packets fail their ICV: never accepted
            rw.Accept(full);
            got.insert(s);
            if (s > top) top = s;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace inlinesec::model::esp
