// ReplayWindow: RFC 4303 §3.4.3 anti-replay with Appendix A2 ESN inference,
// window of 32..4096 packets kept as a ring of 64-bit words (RFC 6479 style)
// so that advancing costs O(words cleared), not O(window). Check() is pure;
// the caller calls Accept() only after the ICV verifies, so a forged packet
// never moves the window.
#pragma once

#include <cstdint>
#include <vector>

namespace inlinesec::model::esp {

class ReplayWindow {
 public:
  // size: packets, a multiple of 32 (1 .. 4096 / 32 words); 0 disables checks.
  // top: highest sequence number already received (SaEntry::seq semantics:
  // every number <= top counts as received).
  ReplayWindow(std::uint32_t size, bool esn, std::uint64_t top);

  enum class Verdict { kOk, kReplay, kTooOld };
  // seq_low: the 32 bits carried in the ESP header. On kOk, `seq` is the full
  // (ESN-inferred) 64-bit sequence number to use for the ICV.
  Verdict Check(std::uint32_t seq_low, std::uint64_t& seq) const;
  // Marks `seq` (from a successful Check) as received and moves the window.
  void Accept(std::uint64_t seq);

  std::uint64_t top() const { return top_; }
  std::uint32_t size() const { return size_; }
  bool esn() const { return esn_; }

 private:
  std::uint32_t size_;
  bool esn_;
  std::uint64_t top_;
  std::vector<std::uint64_t> bits_;  // bit for seq s: word (s / 64) mod n, bit s mod 64
};

}  // namespace inlinesec::model::esp
