# IKEv2 message parser fuzz target; seeds are real messages produced by the
# inlinesec codec (tests/fuzz/corpus/ike_msg/).
inlinesec_fuzz(ike_msg SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ike_msg_fuzz.cc LIBS inlinesec::ike)
