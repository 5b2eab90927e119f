# ESP through the engine model (Engine::Transmit/Receive) beside the raw
# OpenSSL EVP loop on the same bytes; prints model/EVP ratios per size.
#   esp_bench --benchmark_min_time=0.2
if(TARGET inlinesec_model)
  inlinesec_bench(esp_bench
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/esp/esp_bench.cc
    LIBS inlinesec::model OpenSSL::Crypto)
  target_include_directories(esp_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit/esp)
endif()
