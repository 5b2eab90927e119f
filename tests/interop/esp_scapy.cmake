# ESP cross-check against Scapy's ESP layer (python3-scapy), driven through
# esp_scapy_peer.py; skips at run time if Scapy is absent.
find_package(nlohmann_json 3 QUIET)
if(TARGET inlinesec_model AND nlohmann_json_FOUND)
  inlinesec_test(esp_scapy_interop_test interop
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/esp_scapy_test.cc
    LIBS inlinesec::model nlohmann_json::nlohmann_json)
  target_include_directories(esp_scapy_interop_test PRIVATE
    ${PROJECT_SOURCE_DIR}/tests/unit/esp ${CMAKE_CURRENT_LIST_DIR})
  target_compile_definitions(esp_scapy_interop_test PRIVATE
    INLINESEC_SCAPY_PEER="${CMAKE_CURRENT_LIST_DIR}/esp_scapy_peer.py")
endif()
