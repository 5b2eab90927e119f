// IkeSa bookkeeping: Child SA lookups. Key material is SecureBytes and is
// wiped when the IkeSa is destroyed.
#include "inlinesec/ike/sa/ike_sa.h"

#include "inlinesec/ike/tasks/task_manager.h"

namespace inlinesec::ike {

IkeSa::IkeSa(std::uint64_t id, std::shared_ptr<const ConnectionConfig> config,
             bool original_initiator)
    : id_(id), config_(std::move(config)), original_initiator_(original_initiator) {}

IkeSa::~IkeSa() = default;

ChildSa* IkeSa::FindChildByInbound(std::uint32_t spi) {
  for (auto& c : children)
    if (c.spi_in == spi) return &c;
  return nullptr;
}

ChildSa* IkeSa::FindChildByOutbound(std::uint32_t spi) {
  for (auto& c : children)
    if (c.spi_out == spi) return &c;
  return nullptr;
}

ChildSa* IkeSa::FindChild(std::uint64_t id) {
  for (auto& c : children)
    if (c.id == id) return &c;
  return nullptr;
}

}  // namespace inlinesec::ike
