# hb_add_case_test(PREFIX COMMAND... CASES case... [SOURCES src... [LIBS lib...]]
#                  [TIMEOUT s] [LABELS l...] [ENV k=v...] [WORKER] [NO_SKIP]
#                  [RESOURCE_LOCK lock])
#
# The one shape of a test binary that runs one case per process: for each
# case, the CTest test PREFIX_case runs `COMMAND... case` in its own process.
#
# COMMAND is everything between PREFIX and the first keyword: an executable
# target (test_core), or a script and its leading arguments (sh x.sh ARG);
# the case name is its last argument, or replaces @CASE@ wherever a word of
# COMMAND holds it (sh ${dir}/@CASE@.sh runs one script per case). With
# SOURCES, COMMAND's first word is the name of an executable built from
# them, with tests/ on its include path and linked to LIBS.
#
# Properties: TIMEOUT (default 120), SKIP_RETURN_CODE 77 unless NO_SKIP,
# LABELS, and ENVIRONMENT = (HOTBOX_WORKER=<the built worker> if WORKER) + ENV.
function(hb_add_case_test prefix)
  cmake_parse_arguments(C "WORKER;NO_SKIP" "TIMEOUT;RESOURCE_LOCK" "CASES;SOURCES;LIBS;LABELS;ENV" ${ARGN})
  set(cmd ${C_UNPARSED_ARGUMENTS})
  if(NOT cmd OR NOT C_CASES)
    message(FATAL_ERROR "hb_add_case_test(${prefix}): needs a command and CASES")
  endif()
  if(C_SOURCES)
    list(GET cmd 0 exe)
    add_executable(${exe} ${C_SOURCES})
    target_include_directories(${exe} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
    target_link_libraries(${exe} PRIVATE ${C_LIBS})
  endif()
  if(NOT C_TIMEOUT)
    set(C_TIMEOUT 120)
  endif()
  set(env)
  if(C_WORKER)
    list(APPEND env "HOTBOX_WORKER=${HOTBOX_WORKER_OUTPUT_DIR}/hotbox-worker")
  endif()
  list(APPEND env ${C_ENV})
  foreach(c IN LISTS C_CASES)
    set(t ${prefix}_${c})
    if(cmd MATCHES "@CASE@")
      string(REPLACE "@CASE@" "${c}" run "${cmd}")
    else()
      set(run ${cmd} ${c})
    endif()
    add_test(NAME ${t} COMMAND ${run})
    # One property per call: LABELS and ENVIRONMENT are lists themselves.
    set_tests_properties(${t} PROPERTIES TIMEOUT ${C_TIMEOUT})
    if(NOT C_NO_SKIP)
      set_tests_properties(${t} PROPERTIES SKIP_RETURN_CODE 77)
    endif()
    if(C_LABELS)
      set_tests_properties(${t} PROPERTIES LABELS "${C_LABELS}")
    endif()
    if(C_RESOURCE_LOCK)
      set_tests_properties(${t} PROPERTIES RESOURCE_LOCK ${C_RESOURCE_LOCK})
    endif()
    if(env)
      set_tests_properties(${t} PROPERTIES ENVIRONMENT "${env}")
    endif()
  endforeach()
endfunction()
