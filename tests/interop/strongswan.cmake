# strongSwan interop: the harness itself (two charons, kernel-libipsec ESP).
inlinesec_test(strongswan_harness_test interop
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/strongswan_harness_test.cc
  LIBS inlinesec_test_support)
