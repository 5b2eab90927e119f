# DPDK inline gateway throughput (rx -> engine -> tx) beside plain io
# forwarding and DPDK lib/ipsec with crypto_openssl / crypto_aesni_gcm on the
# same ring ports and packets; prints the ratios (docs/dpdk.md).
if(INLINESEC_WITH_DPDK AND TARGET inlinesec_dpdk
   AND EXISTS ${PROJECT_SOURCE_DIR}/examples/dpdk_gateway/CMakeLists.txt)
  find_package(nlohmann_json 3 QUIET)
  if(nlohmann_json_FOUND)
    if(NOT TARGET inlinesec_test_dpdk)
      add_subdirectory(${PROJECT_SOURCE_DIR}/tests/support/dpdk
                       ${CMAKE_BINARY_DIR}/tests/support/dpdk)
    endif()
    inlinesec_bench(dpdk_gateway_bench
      SOURCES ${CMAKE_CURRENT_LIST_DIR}/dpdk/dpdk_gateway_bench.cc
      LIBS inlinesec_dpdk_gateway inlinesec::dpdk inlinesec_test_dpdk rte_net_ring rte_bus_vdev)
    target_include_directories(dpdk_gateway_bench PRIVATE
      ${PROJECT_SOURCE_DIR}/examples/dpdk_gateway)
  endif()
endif()
