# Fuzz target of the driver/SDK exception-entry decoder (sdk/events).
if(TARGET inlinesec_sdk_events)
  inlinesec_fuzz(exq_decode
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/exq_decode_fuzz.cc
    LIBS inlinesec::sdk_events)
endif()
