# Fuzz target for the ESP inbound parser (Engine::Receive), and the program
# that regenerates its seed corpus from packets the model itself produced:
#   fuzz_esp_rx_seedgen tests/fuzz/corpus/esp_rx
if(TARGET inlinesec_model)
  inlinesec_fuzz(esp_rx SOURCES ${CMAKE_CURRENT_LIST_DIR}/esp_rx_fuzz.cc LIBS inlinesec::model)
  target_include_directories(fuzz_esp_rx PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit/esp)
  add_executable(fuzz_esp_rx_seedgen ${CMAKE_CURRENT_LIST_DIR}/esp_rx_seedgen.cc)
  target_link_libraries(fuzz_esp_rx_seedgen PRIVATE inlinesec::model inlinesec_flags)
  target_include_directories(fuzz_esp_rx_seedgen PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit/esp)
endif()
