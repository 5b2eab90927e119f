// ReplayWindow: RFC 4303 §3.4.3 anti-replay with Appendix A2 ESN inference,
// window of 32..4096 packets kept as a ring of 64-bit words (RFC 6479 style)
// so that advancing costs O(words cleared), not O(window). Check() is pure;
// the caller calls Accept() only after the ICV verifies, so a forged packet
// never moves the window.
//
// State semantics follow SaEntry::seq: `top` is the highest sequence number
// received, and at construction every number <= top counts as received (so a
// fresh SA with top 0 rejects sequence number 0, which RFC 4303 never sends).
// With size 0 there is no replay check; the full sequence number is still
// inferred (ESN) as the candidate nearest to top, and Accept() moves top up.
#pragma once

#include <cstdint>
#include <vector>

namespace inlinesec::model::esp {

class ReplayWindow {
 public:
  static constexpr std::uint32_t kMaxSize = 4096;

  // size: packets, a multiple of 32 (1 .. 4096 / 32 words); 0 disables checks.
  // top: highest sequence number already received (SaEntry::seq semantics:
  // every number <= top counts as received). Without ESN, top < 2^32.
  ReplayWindow(std::uint32_t size, bool esn, std::uint64_t top);

  enum class Verdict { kOk, kReplay, kTooOld };
  // seq_low: the 32 bits carried in the ESP header. `seq` always receives the
  // full (ESN-inferred, RFC 4303 App. A2) 64-bit sequence number, to be used
  // for the ICV and reported in exceptions; the verdict says whether it may
  // be accepted. kTooOld also covers numbers outside the 64-bit (ESN) or
  // 32-bit space.
  // Inline without ESN (the number is the 32 bits as sent).
  [[nodiscard]] Verdict Check(std::uint32_t seq_low, std::uint64_t& seq) const {
    if (esn_) return CheckEsn(seq_low, seq);
    seq = seq_low;
    return Judge(seq);
  }
  // Marks `seq` (from a successful Check, after the ICV verified) as received
  // and moves the window. Inline for the common cases: no window (only top
  // moves) and a number above top in top's word (one bit, no word cleared).
  void Accept(std::uint64_t seq) {
    if (size_ == 0) {
      if (seq > top_) top_ = seq;
      return;
    }
    if (seq > top_ && (seq >> 6) == (top_ >> 6)) {
      bits_[(seq >> 6) & mask_] |= std::uint64_t{1} << (seq & 63);
      top_ = seq;
      return;
    }
    AcceptSlow(seq);
  }

  std::uint64_t top() const { return top_; }
  std::uint32_t size() const { return size_; }
  bool esn() const { return esn_; }

 private:
  bool Received(std::uint64_t s) const { return (bits_[(s >> 6) & mask_] >> (s & 63)) & 1u; }
  // The verdict for a full sequence number.
  Verdict Judge(std::uint64_t seq) const {
    if (size_ == 0 || seq > top_) return Verdict::kOk;
    if (top_ - seq >= size_) return Verdict::kTooOld;
    return Received(seq) ? Verdict::kReplay : Verdict::kOk;
  }
  Verdict CheckEsn(std::uint32_t seq_low, std::uint64_t& seq) const;  // App. A2 inference
  void AcceptSlow(std::uint64_t seq);

  std::uint32_t size_;
  bool esn_;
  std::uint64_t top_;
  std::uint64_t mask_ = 0;  // words - 1 (words is a power of two)
  // Bit for seq s: word (s / 64) mod words, bit s mod 64. words >= size/64 + 1
  // so that the word holding top never overlaps the oldest in-window word.
  std::vector<std::uint64_t> bits_;
};

}  // namespace inlinesec::model::esp
