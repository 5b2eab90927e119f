# IKEv2 interop: inlinesecd (sdk/ike + the gateway's engine-model ESP)
# against strongSwan charon with kernel-libipsec, both roles and two IKE
# proposals: establishment, traffic both ways, Child and IKE SA rekey from
# each side, Delete from each side. Root and strongSwan only.
if(TARGET inlinesecd AND TARGET inlinesec_gateway)
  find_package(nlohmann_json 3 REQUIRED)
  inlinesec_test(ike_strongswan_test interop
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/ike_strongswan_test.cc
    LIBS inlinesec::gateway inlinesec_test_support nlohmann_json::nlohmann_json)
  target_compile_definitions(ike_strongswan_test PRIVATE
    INLINESECD_PATH="$<TARGET_FILE:inlinesecd>")
  add_dependencies(ike_strongswan_test inlinesecd)
endif()
