# ESP cross-check against DPDK lib/ipsec with the crypto_openssl vdev, in
# process (EAL without hugepages or PCI). Built when INLINESEC_WITH_DPDK is ON.
if(TARGET inlinesec_model AND INLINESEC_WITH_DPDK)
  inlinesec_test(esp_dpdk_interop_test interop
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/esp_dpdk_test.cc ${CMAKE_CURRENT_LIST_DIR}/esp_dpdk_peer.cc
    LIBS inlinesec::model inlinesec_test_dpdk)
  target_include_directories(esp_dpdk_interop_test PRIVATE
    ${PROJECT_SOURCE_DIR}/tests/unit/esp ${CMAKE_CURRENT_LIST_DIR})
endif()
