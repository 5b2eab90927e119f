# ESP cross-check against tshark's ESP dissector (decryption + ICV check) on
# pcaps the test writes; skips at run time if tshark is absent.
if(TARGET inlinesec_model)
  inlinesec_test(esp_tshark_interop_test interop
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/esp_tshark_test.cc LIBS inlinesec::model)
  target_include_directories(esp_tshark_interop_test PRIVATE
    ${PROJECT_SOURCE_DIR}/tests/unit/esp ${CMAKE_CURRENT_LIST_DIR})
endif()
