# Fuzz target of the engine model's command processor and register file.
if(TARGET inlinesec_model_internal)
  inlinesec_fuzz(model_cmd
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/model_cmd_fuzz.cc
    LIBS inlinesec_model_internal)
endif()
