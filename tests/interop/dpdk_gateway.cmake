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
      LIBS inlinesec_dpdk_gateway inlinesec::dpdk inlinesec_test_dpdk rte_net_ring rte_bus_vdev)
    target_include_directories(dpdk_gateway_interop_test PRIVATE
      ${PROJECT_SOURCE_DIR}/examples/dpdk_gateway)
  endif()
endif()

# The example program itself starts, programs its SAs from the sample
# configuration (ports renamed to two ring vdevs) and exits cleanly.
if(INLINESEC_WITH_DPDK AND TARGET inlinesec_dpdk AND nlohmann_json_FOUND
   AND EXISTS ${PROJECT_SOURCE_DIR}/examples/dpdk_gateway/gateway.json)
  set(_gw_cfg ${CMAKE_CURRENT_BINARY_DIR}/dpdk_gateway_ring.json)
  file(READ ${PROJECT_SOURCE_DIR}/examples/dpdk_gateway/gateway.json _gw_json)
  string(REPLACE "net_tap_esp" "net_ring0" _gw_json "${_gw_json}")
  string(REPLACE "net_tap_lan" "net_ring1" _gw_json "${_gw_json}")
  file(WRITE ${_gw_cfg} "${_gw_json}")
  add_test(NAME dpdk_gateway_app_smoke
    COMMAND $<TARGET_FILE:inlinesec_dpdk_gateway_app> --no-huge -m 512 --no-pci -l 0
            --no-shconf --vdev=net_ring0 --vdev=net_ring1 --log-level=lib.eal:error
            -- --config ${_gw_cfg} --seconds 1)
  set_tests_properties(dpdk_gateway_app_smoke PROPERTIES LABELS interop TIMEOUT 60
    PASS_REGULAR_EXPRESSION "outbound: rx 0")
endif()
