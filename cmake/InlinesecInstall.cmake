# Installation and export: `cmake --install` puts headers, static libraries,
# a CMake package (find_package(inlinesec) -> inlinesec::sdk, ...) and a
# pkg-config file (inlinesec.pc) under the prefix. Only targets this build
# produced are installed (DPDK and XRT glue are optional).
include(CMakePackageConfigHelpers)

set(inlinesec_install_candidates
  inlinesec_flags inlinesec_abi inlinesec_common inlinesec_esp inlinesec_model
  inlinesec_driver_core inlinesec_transport_model inlinesec_transport_xrt inlinesec_driver
  inlinesec_sdk_events inlinesec_sdk_sa inlinesec_sdk inlinesec_recovery inlinesec_ike
  inlinesec_dpdk inlinesec_gateway)
set(inlinesec_install_targets)
foreach(t ${inlinesec_install_candidates})
  if(TARGET ${t})
    list(APPEND inlinesec_install_targets ${t})
    string(REGEX REPLACE "^inlinesec_" "" export_name ${t})
    set_target_properties(${t} PROPERTIES EXPORT_NAME ${export_name})
  endif()
endforeach()
# The model's public header directory is given only for the build tree.
target_include_directories(inlinesec_model PUBLIC $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

install(TARGETS ${inlinesec_install_targets} EXPORT inlinesecTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

foreach(dir firmware_iface/include sdk/common/include hw_models/include hw_models/esp/include
            driver/core/include driver/transport/model/include driver/transport/xrt/include
            driver/dpdk/include sdk/events/include sdk/sa/include sdk/recovery/include
            sdk/ike/include sdk/daemon/include)
  if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/${dir})
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  endif()
endforeach()

install(EXPORT inlinesecTargets NAMESPACE inlinesec::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/inlinesec)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/inlinesecConfig.cmake.in
  ${PROJECT_BINARY_DIR}/inlinesecConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/inlinesec)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/inlinesecConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/inlinesecConfig.cmake
  ${PROJECT_BINARY_DIR}/inlinesecConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/inlinesec)

# pkg-config: the libraries are static, so their own dependencies are listed
# in Libs and Requires (not .private), most dependent first.
set(INLINESEC_PC_LIBS "")
foreach(t inlinesec_gateway inlinesec_dpdk inlinesec_sdk_sa inlinesec_sdk_events inlinesec_driver
          inlinesec_transport_xrt inlinesec_transport_model inlinesec_driver_core
          inlinesec_model inlinesec_esp inlinesec_recovery inlinesec_ike inlinesec_common)
  if(TARGET ${t})
    get_target_property(type ${t} TYPE)
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      string(APPEND INLINESEC_PC_LIBS " -l${t}")
    endif()
  endif()
endforeach()
set(INLINESEC_PC_PRIVATE "-lpthread")
if(TARGET inlinesec_transport_xrt)
  string(APPEND INLINESEC_PC_PRIVATE " -lxrt_coreutil -luuid")
endif()
set(INLINESEC_PC_REQUIRES "libcrypto >= 3.0")
if(TARGET inlinesec_dpdk)
  string(APPEND INLINESEC_PC_REQUIRES ", libdpdk")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/inlinesec.pc.in ${PROJECT_BINARY_DIR}/inlinesec.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/inlinesec.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
