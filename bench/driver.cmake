# SA programming through SDK, driver and model (stepped), beside its ceiling.
if(TARGET inlinesec_sdk_sa)
  inlinesec_bench(bench_sa_program
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/driver/sa_program_bench.cc
    LIBS inlinesec::sdk OpenSSL::Crypto)
endif()
