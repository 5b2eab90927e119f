// The engine model's SA table: a compact index of (SPI, reference) pairs, one
// per table slot, which is all the inbound lookup touches, plus a pool of
// SaSlots (entry image, AEAD context, replay window, counters) for the valid
// entries only. A table of 2^20 slots with few SAs costs 8 MiB of index, not
// 2^20 AEAD contexts. Removing an SA wipes the key bytes of its entry image
// and scrubs its AEAD context; the SaSlot is kept for the next SA written
// (which re-keys the context in place) until the engine resets.
#include <memory>
#include <optional>
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
  std::unique_ptr<SaSlot> old = std::move(pool[ref - 1]);
  free_pool.push_back(ref - 1);
  sa_index[index] = SaIndexEntry{0, 0};
  Recycle(std::move(old));
}

void EngineCore::RemoveAllSas() { ClearSas(/*keep_for_reuse=*/true); }

void EngineCore::ClearSas(bool keep_for_reuse) {
  for (auto& slot : pool) {
    if (slot == nullptr) continue;
    sa_index[slot->index] = SaIndexEntry{0, 0};
    if (keep_for_reuse) {
      Recycle(std::move(slot));
    } else {
      slot.reset();  // ~SaSlot wipes the key bytes, ~Aead frees the context
    }
  }
  pool.clear();
  free_pool.clear();
}

void EngineCore::Recycle(std::unique_ptr<SaSlot> slot) {
  std::optional<esp::Aead> aead = std::move(slot->aead);
  if (aead) aead->Scrub();  // no key schedule of the dead SA stays behind
  // A fresh SaSlot in the same storage: every field back to its default
  // (~SaSlot wipes the entry's key bytes), no field forgotten.
  std::destroy_at(slot.get());
  std::construct_at(slot.get());
  slot->aead = std::move(aead);
  spare_slots_.Push(std::move(slot));
}

}  // namespace inlinesec::model
