# DPDK integration of the inline engine: rte_security context, burst
# functions, the example gateway (two gateways back to back over ring ports)
# and DPDK lib/ipsec with crypto_openssl as the cross-check. One binary: EAL
# starts once per process. Built when INLINESEC_WITH_DPDK is ON.
if(INLINESEC_WITH_DPDK AND TARGET inlinesec_dpdk
   AND EXISTS ${PROJECT_SOURCE_DIR}/examples/dpdk_gateway/CMakeLists.txt)
  find_package(nlohmann_json 3 QUIET)
  if(nlohmann_json_FOUND)
    inlinesec_test(dpdk_gateway_interop_test interop
      SOURCES ${CMAKE_CURRENT_LIST_DIR}/dpdk_gateway_test.cc
              ${CMAKE_CURRENT_LIST_DIR}/dpdk_libipsec_ref.cc
      LIBS inlinesec_dpdk_gateway inlinesec::dpdk PkgConfig::DPDK rte_net_ring)
    target_include_directories(dpdk_gateway_interop_test PRIVATE
      ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/examples/dpdk_gateway)
  endif()
endif()
