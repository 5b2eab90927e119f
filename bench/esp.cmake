# ESP through the engine model (Engine::Transmit/Receive) beside the raw
# OpenSSL loop on the same bytes (the provider's cipher functions, called as
# the model calls them); prints model/OpenSSL ratios per size.
#   esp_bench --benchmark_min_time=0.2
if(TARGET inlinesec_model)
  inlinesec_bench(esp_bench
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/esp/esp_bench.cc
    LIBS inlinesec::model OpenSSL::Crypto)
  target_include_directories(esp_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit/esp
                                               ${PROJECT_SOURCE_DIR}/hw_models/esp/src)
endif()
