// The IKE connection file (JSON; format in docs/ike.md): parsed into
// ConnectionConfigs with errors that name the line and column (syntax) or
// the key path (meaning), e.g. "connections[0].children[1].local_ts[0]: not
// a traffic selector: '10.0.0.0/33'". Unknown keys are errors, so typos do
// not silently fall back to defaults.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "inlinesec/common/status.h"
#include "inlinesec/ike/sa/config.h"

namespace inlinesec::ike {

[[nodiscard]] Result<std::vector<ConnectionConfig>> ParseConfig(std::string_view json_text);
[[nodiscard]] Result<std::vector<ConnectionConfig>> LoadConfigFile(const std::string& path);

// "30s", "10m", "4h", "1d", "250ms" or a bare number of seconds.
[[nodiscard]] Result<Duration> ParseDuration(std::string_view text);

}  // namespace inlinesec::ike
