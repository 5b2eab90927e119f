// The body of a command-line program's main(), with an exception that
// escapes it (std::bad_alloc, a parser library's throw) turned into one line
// on stderr and exit status 70 (EX_SOFTWARE) instead of std::terminate and a
// core dump. The SDK itself does not throw (STYLE.md); the programs use
// libraries that may.
#pragma once

#include <cstdio>
#include <exception>

namespace inlinesec {

inline constexpr int kExitSoftware = 70;

template <typename Body>
int GuardedMain(const char* program, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: fatal: %s\n", program, e.what());
  } catch (...) {
    std::fprintf(stderr, "%s: fatal: unknown exception\n", program);
  }
  return kExitSoftware;
}

}  // namespace inlinesec
