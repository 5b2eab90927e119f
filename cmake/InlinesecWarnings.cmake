# Warning and sanitizer flags for every inlinesec target. Third-party headers
# come in as SYSTEM includes so their warnings never fail our build.
add_library(inlinesec_flags INTERFACE)
target_compile_options(inlinesec_flags INTERFACE
  -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wimplicit-fallthrough -Wformat=2)
if(INLINESEC_WERROR)
  target_compile_options(inlinesec_flags INTERFACE -Werror)
endif()
if(INLINESEC_SANITIZE)
  target_compile_options(inlinesec_flags INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer)
  target_link_options(inlinesec_flags INTERFACE -fsanitize=address,undefined)
endif()
# libFuzzer builds (clang, -DINLINESEC_LIBFUZZER=ON; tests/fuzz): every
# target gets coverage instrumentation, so that the fuzzer is guided by the
# branches of the libraries it exercises, not only by its target's own file.
option(INLINESEC_LIBFUZZER "Link fuzz targets with libFuzzer (clang only)" OFF)
if(INLINESEC_LIBFUZZER)
  target_compile_options(inlinesec_flags INTERFACE -fsanitize=fuzzer-no-link)
endif()
