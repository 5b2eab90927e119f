# SA programming through SDK, driver and model (stepped), beside its ceiling.
if(TARGET inlinesec_sdk_sa)
  inlinesec_bench(bench_sa_program
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/driver/sa_program_bench.cc
    LIBS inlinesec::sdk inlinesec::esp OpenSSL::Crypto)
  # The ceiling creates contexts through the provider functions as the
  # model does (the internal hw_models/esp/src/cipher.h).
  target_include_directories(bench_sa_program PRIVATE ${PROJECT_SOURCE_DIR}/hw_models/esp/src)
endif()
