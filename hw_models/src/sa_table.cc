// The engine model's SA table: a compact index of (SPI, reference) pairs, one
// per table slot, which is all the inbound lookup touches, plus a pool of
// SaSlots (entry image, AEAD context, replay window, counters) for the valid
// entries only. A table of 2^20 slots with few SAs costs 8 MiB of index, not
// 2^20 AEAD contexts. Removing an SA destroys its SaSlot, which wipes the key
// bytes of its entry image.
#include <utility>

#include "engine_impl.h"
#include "inlinesec/common/check.h"

namespace inlinesec::model {

void EngineCore::InstallSa(std::unique_ptr<SaSlot> slot) {
  INLINESEC_CHECK(slot != nullptr && slot->index <= index_mask);
  const std::uint32_t index = slot->index;
  RemoveSa(index);  // replace: the old SA's keys are wiped first
  std::uint32_t pos;
  if (!free_pool.empty()) {
    pos = free_pool.back();
    free_pool.pop_back();
  } else {
    pos = static_cast<std::uint32_t>(pool.size());
    pool.emplace_back();
  }
  const bool outbound = !slot->inbound();
  const std::uint32_t spi = slot->entry.spi.get();
  pool[pos] = std::move(slot);
  sa_index[index] = SaIndexEntry{spi, (pos + 1) | (outbound ? kRefOutbound : 0)};
}

void EngineCore::RemoveSa(std::uint32_t index) {
  if (index > index_mask) return;
  const std::uint32_t ref = sa_index[index].ref & ~kRefOutbound;
  if (ref == 0) return;
  pool[ref - 1].reset();
  free_pool.push_back(ref - 1);
  sa_index[index] = SaIndexEntry{0, 0};
}

void EngineCore::RemoveAllSas() {
  for (auto& slot : pool) {
    if (slot == nullptr) continue;
    sa_index[slot->index] = SaIndexEntry{0, 0};
    slot.reset();
  }
  pool.clear();
  free_pool.clear();
}

}  // namespace inlinesec::model
