// Translation of DPDK's rte_security_session_conf (IPsec xform + AEAD
// rte_crypto_sym_xform) into sdk::SaDescription, following the mapping table
// in docs/sdk_sa_manager.md. Everything the engine cannot do is refused with
// a Status that names the field, before the SA manager sees it.
#pragma once

#include <rte_security.h>

#include "inlinesec/common/status.h"
#include "inlinesec/driver/device.h"
#include "inlinesec/sdk/sa_manager.h"

namespace inlinesec::dpdk {

[[nodiscard]] Result<sdk::SaDescription> DescriptionFromConf(const rte_security_session_conf& conf,
                                                             const driver::Capabilities& caps);

}  // namespace inlinesec::dpdk
