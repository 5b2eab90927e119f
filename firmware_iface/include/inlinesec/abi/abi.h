// Umbrella header: the whole inlinesec engine ABI v1.
#pragma once

#include "inlinesec/abi/exq.h"
#include "inlinesec/abi/le.h"
#include "inlinesec/abi/mailbox.h"
#include "inlinesec/abi/pkt_meta.h"
#include "inlinesec/abi/regs.h"
#include "inlinesec/abi/ring.h"
#include "inlinesec/abi/sa_entry.h"
#include "inlinesec/abi/version.h"
