// INLINESEC_CHECK: the one way to state an invariant whose violation is a bug
// in inlinesec itself (never bad input). It prints the condition and location
// and aborts, in every build type.
#pragma once

#include <cstdio>
#include <cstdlib>

#define INLINESEC_CHECK(cond)                                                                 \
  do {                                                                                        \
    if (!(cond)) [[unlikely]] {                                                               \
      std::fprintf(stderr, "%s:%d: INLINESEC_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
