# Engine model benchmarks: SA programming through the command ring (single
# kWriteSa and kWriteSaBatch of 64/256 per doorbell) and the inbound SPI
# lookup at 2^20 valid entries beside DPDK's rte_ipsec_sad as the ceiling.
if(TARGET inlinesec_model_internal)
  inlinesec_bench(model_bench
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/model/model_bench.cc
    LIBS inlinesec_model_internal)
  target_include_directories(model_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit/model)
  if(INLINESEC_WITH_DPDK)
    target_link_libraries(model_bench PRIVATE PkgConfig::DPDK)
    target_compile_definitions(model_bench PRIVATE INLINESEC_BENCH_DPDK=1)
  endif()
endif()
