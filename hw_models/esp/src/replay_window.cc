// ReplayWindow implementation: RFC 4303 §3.4.3 sliding window, Appendix A2
// inference of the high 32 bits with ESN, and the RFC 6479 ring of 64-bit
// words: moving the window right clears only the words it passes over, and
// no per-packet work depends on the window size.
#include "inlinesec/model/esp/replay_window.h"

#include <algorithm>

#include "inlinesec/common/check.h"

namespace inlinesec::model::esp {

namespace {

constexpr std::uint64_t kAll = ~std::uint64_t{0};

std::uint64_t LowBitsThrough(std::uint64_t bit) {  // bits 0..bit set
  return bit >= 63 ? kAll : ((std::uint64_t{1} << (bit + 1)) - 1);
}

}  // namespace

ReplayWindow::ReplayWindow(std::uint32_t size, bool esn, std::uint64_t top)
    : size_(size), esn_(esn), top_(top) {
  INLINESEC_CHECK(size % 32 == 0 && size <= kMaxSize);
  if (!esn_) INLINESEC_CHECK(top_ <= 0xFFFFFFFFull);
  std::uint64_t words = 1;
  while (words < size_ / 64 + 2) words <<= 1;
  mask_ = words - 1;
  // Everything <= top counts as received; nothing above it.
  bits_.assign(words, kAll);
  bits_[(top_ >> 6) & mask_] = LowBitsThrough(top_ & 63);
}

ReplayWindow::Verdict ReplayWindow::CheckEsn(std::uint32_t seq_low, std::uint64_t& seq) const {
  // RFC 4303 Appendix A2.1, with W the window (half the space when the
  // window is off, which picks the candidate nearest to top).
  const std::uint32_t w = size_ != 0 ? size_ : 0x80000000u;
  const std::uint32_t tl = static_cast<std::uint32_t>(top_);
  const std::uint32_t th = static_cast<std::uint32_t>(top_ >> 32);
  const std::uint32_t bottom = tl - w + 1;  // modulo 2^32
  std::uint64_t hi;
  if (tl >= w - 1) {
    // The window lies within one 2^32 subspace.
    if (seq_low >= bottom) {
      hi = th;
    } else {
      if (th == 0xFFFFFFFFu) {  // would leave the 64-bit space
        seq = seq_low;
        return Verdict::kTooOld;
      }
      hi = std::uint64_t{th} + 1;
    }
  } else {
    // The window spans two subspaces: bottom lies in th - 1.
    if (seq_low >= bottom) {
      if (th == 0) {  // below sequence number 0
        seq = seq_low;
        return Verdict::kTooOld;
      }
      hi = std::uint64_t{th} - 1;
    } else {
      hi = th;
    }
  }
  seq = (hi << 32) | seq_low;
  return Judge(seq);
}

void ReplayWindow::AcceptSlow(std::uint64_t seq) {
  if (seq > top_) {
    const std::uint64_t old_word = top_ >> 6;
    const std::uint64_t new_word = seq >> 6;
    const std::uint64_t clear = std::min<std::uint64_t>(new_word - old_word, mask_ + 1);
    for (std::uint64_t i = 1; i <= clear; ++i) bits_[(old_word + i) & mask_] = 0;
    top_ = seq;
  } else if (size_ == 0 || top_ - seq >= size_) {
    return;  // outside the window: nothing to record
  }
  if (size_ != 0) bits_[(seq >> 6) & mask_] |= std::uint64_t{1} << (seq & 63);
}

}  // namespace inlinesec::model::esp
