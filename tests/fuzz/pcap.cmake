# The pcap reader of inlinesec-model-pcap, and its SA file parser.
if(TARGET inlinesec_model_pcap_lib)
  inlinesec_fuzz(pcap SOURCES ${CMAKE_CURRENT_LIST_DIR}/pcap_fuzz.cc LIBS inlinesec_model_pcap_lib)
  inlinesec_fuzz(sa_json SOURCES ${CMAKE_CURRENT_LIST_DIR}/sa_json_fuzz.cc
    LIBS inlinesec_model_pcap_lib)
endif()
