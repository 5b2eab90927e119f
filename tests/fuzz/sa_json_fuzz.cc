// Fuzz target: arbitrary bytes as an SA file. Parsing returns entries or an
// error naming a record; it never crashes or lets an exception escape.
#include <cstddef>
#include <cstdint>
#include <string>

#include "sa_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto r = inlinesec::tools::ParseSaFile(text);
  (void)r.ok();
  return 0;
}
