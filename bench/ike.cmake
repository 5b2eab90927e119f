# IKE SA (with one Child SA) establishment rate: two inlinesec IkeStacks in
# one process beside two strongSwan charons in two namespaces, same run.
if(TARGET inlinesec::ike)
  set(_ike_bench_libs inlinesec::ike)
  if(TARGET inlinesec_test_support)
    list(APPEND _ike_bench_libs inlinesec_test_support)
  endif()
  inlinesec_bench(bench_ike
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/ike/ike_bench.cc
    LIBS ${_ike_bench_libs})
  if(TARGET inlinesec_test_support)
    target_compile_definitions(bench_ike PRIVATE INLINESEC_BENCH_STRONGSWAN=1)
  endif()
endif()
