# Recovery engine under an SPI-miss flood, beside the raw ring drain.
if(TARGET inlinesec::sdk_events AND TARGET inlinesec::recovery)
  inlinesec_bench(bench_recovery
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/recovery/recovery_bench.cc
    LIBS inlinesec::recovery inlinesec::sdk_events)
endif()
