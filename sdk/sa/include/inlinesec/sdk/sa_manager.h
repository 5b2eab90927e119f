// SaManager: the SA table as an appliance sees it. It adds, updates and
// deletes inbound and outbound SAs (singly and in batches) on a Device,
// allocates inbound SPIs that index the table (DESIGN decision 2), keeps a
// shadow of every programmed SA (keys in SecureBytes, wiped on delete), runs
// time lifetimes on the injected Clock/Timers and turns the engine's byte and
// packet lifetime exceptions into the same typed per-SA event stream, reads
// per-SA counters back, and re-programs the table from the shadow after a
// device reset or firmware restart (sequence numbers forward, never back).
// The shadow is a flat store indexed by table index (inbound SPIs index the
// table, DESIGN decision 2), keys in fixed inline buffers wiped on delete:
// adding an SA allocates nothing once the store has grown.
//
// The SaDescription maps one to one onto DPDK's rte_security_session_conf
// (ipsec xform + AEAD xform); see docs/sdk_sa_manager.md for the table.
//
// Threading: not thread-safe; call from one event loop (the one that runs
// the Timers and the ExceptionConsumer sinks).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "inlinesec/abi/sa_entry.h"
#include "inlinesec/common/clock.h"
#include "inlinesec/common/fifo.h"
#include "inlinesec/common/secure_bytes.h"
#include "inlinesec/common/status.h"
#include "inlinesec/driver/device.h"
#include "inlinesec/sdk/events.h"
#include "inlinesec/sdk/ip_address.h"

namespace inlinesec::sdk {

enum class SaDirection : std::uint8_t { kInbound, kOutbound };
enum class SaMode : std::uint8_t { kTransport, kTunnel };
enum class AeadAlgo : std::uint8_t { kAesGcm128, kAesGcm256, kChaCha20Poly1305 };
enum class DfPolicy : std::uint8_t { kCopy, kSet, kClear };

// Soft/hard limits; 0 = none. Time limits run from Add (or Update).
struct SaLifetime {
  std::uint64_t bytes_soft = 0;
  std::uint64_t bytes_hard = 0;
  std::uint64_t packets_soft = 0;
  std::uint64_t packets_hard = 0;
  Duration time_soft{0};
  Duration time_hard{0};
};

struct SaDescription {
  SaDirection direction = SaDirection::kOutbound;
  // Outbound: the peer's SPI. Inbound: 0 = allocate one, or an SPI from
  // AllocateInboundSpi() (or any free one that obeys the indexing rule).
  std::uint32_t spi = 0;
  std::array<std::uint8_t, 4> salt{};  // nonce salt, nonce byte order
  AeadAlgo algo = AeadAlgo::kAesGcm256;
  SecureBytes key;  // 16 or 32 bytes as the algorithm needs
  // Options (rte_security_ipsec_sa_options).
  bool esn = false;
  bool udp_encap = false;
  bool copy_dscp = true;  // false: outer DSCP = `dscp`
  std::uint8_t dscp = 0;
  DfPolicy df = DfPolicy::kCopy;
  std::uint8_t ttl = 0;  // tunnel outer TTL/hop limit, 0 = 64
  SaMode mode = SaMode::kTunnel;
  IpAddress tunnel_src;  // tunnel outer addresses (also NAT-T endpoints)
  IpAddress tunnel_dst;
  std::uint16_t udp_sport = 0;
  std::uint16_t udp_dport = 0;
  std::uint32_t replay_window = 0;  // packets, multiple of 32; inbound only
  SaLifetime life;
  // Outbound: last sequence number used (first packet is +1). Inbound:
  // highest already received. Usually 0.
  std::uint64_t initial_seq = 0;
  std::uint64_t cookie = 0;  // opaque, echoed in events (rte: userdata)

  SaDescription Clone() const;
};

// Names a programmed SA: the table index (what TX metadata carries for an
// outbound SA) and the SPI, so a handle of a deleted SA never hits its
// successor in the same slot.
struct SaHandle {
  std::uint32_t index = 0xFFFFFFFFu;
  std::uint32_t spi = 0;
  friend bool operator==(const SaHandle&, const SaHandle&) = default;
};

enum class SaEventKind : std::uint8_t {
  kSoftTime,
  kHardTime,
  kSoftBytes,
  kHardBytes,
  kSoftPackets,
  kHardPackets,
  kSeqOverflow,
};
std::string_view SaEventKindName(SaEventKind k);

struct SaEvent {
  SaHandle sa;
  SaEventKind kind = SaEventKind::kSoftTime;
  std::uint64_t cookie = 0;
};
using SaEventHandler = std::function<void(const SaEvent&)>;

struct SaCounters {
  std::uint64_t seq = 0;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t replay_drops = 0;
  std::uint64_t auth_fails = 0;
  bool soft_expired = false;
  bool hard_expired = false;
  bool seq_overflow = false;
};

// Outcome of an Add/Update batch. Add and Update batches are all or nothing:
// on failure nothing changed, `status` names the first bad item and
// `item_status[i]` says per item what was wrong (kFailedPrecondition "not
// applied" for the items that were fine). Delete batches are per item: every
// item is attempted and reported.
struct BatchResult {
  Status status;
  std::vector<SaHandle> handles;    // one per item on success (Add)
  std::vector<Status> item_status;  // one per item
};

struct SaManagerOptions {
  // An inbound table index is not reused for this long after its SA was
  // deleted, so late packets of the old SPI meet an empty slot (SPI miss),
  // never a new SA. SPIs carry a generation too, so the same SPI value
  // returns only after the generation space wraps.
  Duration spi_quarantine = std::chrono::seconds(60);
  // Resync moves an outbound SA's sequence number to (last read seq +
  // margin): packets sent since the last read must not be re-numbered.
  std::uint64_t resync_seq_margin = 1u << 20;
};

class SaManager {
 public:
  // Longest key an SaDescription carries (AES-256-GCM, ChaCha20-Poly1305).
  static constexpr std::size_t kMaxShadowKey = 32;

  SaManager(driver::Device& device, const Clock& clock, Timers& timers,
            const SaManagerOptions& options = {});
  ~SaManager();
  SaManager(const SaManager&) = delete;
  SaManager& operator=(const SaManager&) = delete;

  // --- inbound SPIs ---
  // Reserves a table index and returns its SPI (for IKE to send before keys
  // exist). Released by Add (which consumes it) or ReleaseSpi.
  [[nodiscard]] Result<std::uint32_t> AllocateInboundSpi();
  [[nodiscard]] Status ReleaseSpi(std::uint32_t spi);

  // --- SAs ---
  [[nodiscard]] Result<SaHandle> Add(const SaDescription& desc);
  // Replaces an SA's parameters (same direction and SPI); the sequence
  // number never moves back.
  [[nodiscard]] Status Update(SaHandle sa, const SaDescription& desc);
  [[nodiscard]] Status Delete(SaHandle sa);
  [[nodiscard]] BatchResult AddBatch(std::span<const SaDescription> descs);
  [[nodiscard]] BatchResult UpdateBatch(std::span<const SaHandle> sas,
                                        std::span<const SaDescription> descs);
  [[nodiscard]] BatchResult DeleteBatch(std::span<const SaHandle> sas);

  // Per-SA counters from the engine (kReadSa); also remembers the sequence
  // number for resync.
  [[nodiscard]] Result<SaCounters> ReadCounters(SaHandle sa);
  // Reads every live SA's sequence number (call periodically: it bounds what
  // resync must skip).
  [[nodiscard]] Status RefreshSequenceNumbers();

  // --- events ---
  void SetEventHandler(SaEventHandler handler) { handler_ = std::move(handler); }
  // A handler for one SA's events (instead of the global one).
  [[nodiscard]] Status SetEventHandler(SaHandle sa, SaEventHandler handler);
  // Feed from ExceptionConsumer (AddSink): lifetime and overflow events.
  void OnDeviceEvent(const Event& event);

  // --- resync ---
  // Checks the epoch: if the engine restarted behind our back, resyncs.
  // Returns true if a resync ran.
  [[nodiscard]] Result<bool> CheckDevice();
  // Resets the device and re-programs every live SA from the shadow, with
  // outbound sequence numbers moved forward by the margin. While it runs
  // the table entries are invalid, so traffic fails closed (kTxNoSa / SPI
  // miss).
  [[nodiscard]] Status Resync();
  // True after a command timed out or the device reset: the table may not
  // match the shadow until Resync() succeeds.
  bool resync_needed() const { return resync_needed_; }

  // --- recovery helpers (DESIGN decision 5, first step) ---
  // The live inbound SA the shadow holds for `spi`, if any (one indexed
  // lookup, as in the engine).
  std::optional<SaHandle> LookupInbound(std::uint32_t spi) const;
  // The live SA at a table index, if any.
  std::optional<SaHandle> LookupIndex(std::uint32_t index) const;
  // Re-programs one SA from the shadow (it is missing or wrong in the
  // engine: an SPI miss or kTxNoSa for an SA the shadow knows). Sequence
  // numbers move forward as in Resync. A stopped (hard-expired) SA is not
  // re-programmed: kFailedPrecondition.
  [[nodiscard]] Status Reprogram(SaHandle sa);

  // --- introspection ---
  std::size_t size() const { return live_; }
  bool Contains(SaHandle sa) const;
  std::vector<SaHandle> Handles() const;
  // The entry the shadow would program for `sa` (key zeroed), for
  // comparisons with kReadSa.
  [[nodiscard]] Result<abi::SaEntry> ShadowEntry(SaHandle sa) const;

 private:
  // What the shadow keeps of an SA's description: what resync, Reprogram
  // and the lifetime events need beside the encoded entry.
  struct Shadow {
    SaHandle handle;  // index 0xFFFFFFFF: an unused store position
    SaDirection direction = SaDirection::kOutbound;
    bool esn = false;
    std::uint64_t cookie = 0;
    SaLifetime life;
    InlineSecureBytes<kMaxShadowKey> key;  // wiped on delete (destructor)
    abi::SaEntry entry{};                  // encoded, key bytes zero
    std::uint64_t last_seq = 0;            // last sequence number known (read or programmed)
    // Lifetime use: before the current programming, and read since it.
    std::uint64_t consumed_bytes = 0;
    std::uint64_t consumed_packets = 0;
    std::uint64_t read_bytes = 0;
    std::uint64_t read_packets = 0;
    TimerId soft_timer = kNoTimer;
    TimerId hard_timer = kNoTimer;
    std::uint32_t emitted = 0;  // bit per SaEventKind already delivered
    bool stopped = false;       // hard limit or overflow: never reprogrammed
    SaEventHandler handler;
  };
  // The Shadow of table index `index`, nullptr if none.
  Shadow* ShadowAt(std::uint32_t index);
  const Shadow* ShadowAt(std::uint32_t index) const;
  // A fresh Shadow for `index` (which has none).
  Shadow& NewShadow(std::uint32_t index);
  // Starts loading the Shadow the k-th next NewShadow will use (0: the
  // next), if the store has it already: a cache hint, no effect otherwise.
  void PrefetchNewShadow(std::size_t k) const;
  // Destroys index's Shadow (wiping its key) and frees its position.
  void DropShadow(std::uint32_t index);
  // Calls fn(Shadow&) for every live Shadow.
  template <typename Fn>
  void ForEachShadow(Fn&& fn);

  // The time quarantine deadlines are compared with: read once per call
  // (not per SA of a batch), and only if something is in quarantine.
  TimePoint QuarantineNow() const;
  // Puts `index` in quarantine from `now` for options_.spi_quarantine.
  void Quarantine(std::uint32_t index, TimePoint now);
  // A free table index (marked in use); releases quarantined indices whose
  // time is up by `now` first.
  Result<std::uint32_t> PickIndex(TimePoint now);
  // PickIndex's error, out of its way (no frame for it on every pick).
  [[gnu::cold, gnu::noinline]] Status TableFull() const;
  std::uint32_t SpiFor(std::uint32_t index);
  Status Validate(const SaDescription& d) const;
  // Validate's checks of the SA options against the capabilities (only run
  // when the engine lacks one of them: lacks_options_).
  Status CheckOptions(const SaDescription& d) const;
  // Writes every byte of `e`: the description's fields, key bytes zero.
  void Encode(const SaDescription& d, std::uint64_t seq, abi::SaEntry& e) const;
  // Fills entry.key for a write; wiped by the caller.
  static void FillKey(abi::SaEntry& e, std::span<const std::uint8_t> key);
  Result<SaHandle> Reserve(const SaDescription& d, TimePoint now);
  void Unreserve(const SaHandle& h, SaDirection dir);
  // Stores a new SA's Shadow (its index has none: Reserve handed it out).
  void Commit(SaHandle h, const SaDescription& d, const abi::SaEntry& entry);
  // Replaces an updated SA's Shadow, keeping its event handler.
  void Recommit(SaHandle h, const SaDescription& d, const abi::SaEntry& entry);
  // Arms the time lifetimes (at least one is set) of a Shadow fresh from
  // NewShadow (Commit).
  void ArmTimers(Shadow& s);
  void CancelTimers(Shadow& s);
  void Emit(Shadow& s, SaEventKind kind);
  void Forget(std::uint32_t index);  // wipe shadow, quarantine index
  Shadow* Find(SaHandle sa);
  const Shadow* Find(SaHandle sa) const;
  void NoteDeviceFailure(const Status& st);
  // The entry a resync or reprogram writes: seq forward, limits reduced by
  // what was used. Updates the shadow's bookkeeping.
  abi::SaEntry RecoveryEntry(Shadow& s);
  Status WriteRecords(std::vector<abi::SaWriteRecord>& records, std::vector<Status>& item_status,
                      std::size_t base);

  driver::Device& device_;
  const Clock& clock_;
  Timers& timers_;
  SaManagerOptions options_;
  std::uint32_t capacity_;
  std::uint32_t min_generation_;
  std::uint32_t max_generation_;
  // The engine lacks one of the SA options CheckOptions checks (the
  // capabilities are read once, when the Device attaches).
  bool lacks_options_;

  // Per table index, one calloc'd array (the OS zero-fills it lazily, so a
  // large table costs no memory until its indices are used): the position
  // + 1 of its Shadow in the store (0: none) and the next SPI generation
  // (0: min_generation_).
  struct IndexState {
    std::uint32_t shadow;
    std::uint32_t next_generation;
  };
  struct FreeDeleter {
    void operator()(void* p) const;
  };
  std::unique_ptr<IndexState[], FreeDeleter> index_;
  // The shadow store: Shadows in chunks that never move (pointers stay
  // valid while handlers add and delete SAs); positions of dropped Shadows
  // are reused, so it holds the peak number of SAs. Reuse is oldest-dropped
  // first, so SAs added after a bulk delete fill the store in the order it
  // was emptied, and Handles() (store order) lists them in the order they
  // were added; deleting them in that order lets the engine, which reuses
  // its parked per-SA state oldest first too, walk memory forwards on the
  // next adds (docs/benchmarks.md, bench_sa_program).
  static constexpr std::uint32_t kShadowChunk = 256;
  std::vector<std::unique_ptr<Shadow[]>> chunks_;
  Fifo<std::uint32_t> free_positions_;
  std::uint32_t positions_ = 0;  // store positions handed out so far
  std::size_t live_ = 0;         // live Shadows
  // Index state. Freed indices in the order they were freed, each with the
  // end of its quarantine: the oldest `released_` of them are out of
  // quarantine (the free FIFO, reused oldest first), the rest still in it.
  // In front of the free FIFO, the indices Unreserve gave back (a stack:
  // last given back, first reused). Then the reserved SPIs.
  struct FreedIndex {
    TimePoint until;
    std::uint32_t index;
  };
  Fifo<FreedIndex> freed_;
  std::size_t released_ = 0;
  std::vector<std::uint32_t> returned_;
  // Index taken (SA, reservation or quarantine). A byte array of its own:
  // PickIndex walks it, and 8 more bytes per index (in IndexState) made
  // the adds about 25% slower in wall time.
  std::vector<std::uint8_t> in_use_;
  std::unordered_map<std::uint32_t, std::uint32_t> reserved_;  // index -> spi
  std::uint32_t next_fresh_ = 0;  // indices >= this were never handed out
  SaEventHandler handler_;
  bool resync_needed_ = false;
  std::vector<abi::SaWriteRecord> add_records_;  // AddBatch scratch, keys wiped
};

}  // namespace inlinesec::sdk
