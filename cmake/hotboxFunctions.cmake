# hotboxFunctions.cmake - drive `hotbox test` from a project's own CTest run.
#
# Included by hotboxConfig.cmake, so after find_package(hotbox):
#
#   hotbox_add_plugin(NAME DIR)
#       Names a plugin directory. Registers the CTest test hotbox_build_NAME
#       (`hotbox build DIR`: the plugin must compile).
#
#   hotbox_add_tests(NAME DIR_OR_PLUGIN... [ARGS arg...] [TIMEOUT seconds]
#                    [STATE_DIR dir] [ENVIRONMENT var=value...])
#       Registers the CTest test NAME running
#         hotbox --state-dir STATE_DIR test --junit <build>/NAME.junit.xml ARGS... DIRS...
#       Each argument is a directory (a plugin, or a directory of plugins) or a
#       NAME given to hotbox_add_plugin. ARGS go to `hotbox test` (e.g. -j 2,
#       -k 'mathx.*', --upgrade, --require-tests). The test passes when hotbox
#       exits 0, i.e. every plugin test passed. STATE_DIR defaults to
#       <build>/hotbox-state, shared by every hotbox_add_tests of the directory,
#       so --upgrade finds the versions earlier runs stored.
#
# The hotbox executable is HOTBOX_EXECUTABLE when set; in hotbox's own build
# tree the hotbox_cli target; else the `hotbox` installed beside this file
# (<prefix>/bin) or on PATH. A pkg-config user gets the same by adding
#   add_test(NAME t COMMAND hotbox test --junit t.xml DIR...)
# to CMake, or `hotbox test DIR...` to any other build system's test step.

include_guard(GLOBAL)
set(_HOTBOX_FUNCTIONS_DIR "${CMAKE_CURRENT_LIST_DIR}")

function(_hotbox_executable out)
  if(HOTBOX_EXECUTABLE)
    set(${out} "${HOTBOX_EXECUTABLE}" PARENT_SCOPE)
  elseif(TARGET hotbox_cli)
    set(${out} "$<TARGET_FILE:hotbox_cli>" PARENT_SCOPE)
  else()
    get_filename_component(_prefix "${_HOTBOX_FUNCTIONS_DIR}/../../.." ABSOLUTE)
    find_program(HOTBOX_EXECUTABLE NAMES hotbox HINTS "${_prefix}/bin")
    if(NOT HOTBOX_EXECUTABLE)
      message(FATAL_ERROR "hotbox: cannot find the hotbox command; set HOTBOX_EXECUTABLE")
    endif()
    set(${out} "${HOTBOX_EXECUTABLE}" PARENT_SCOPE)
  endif()
endfunction()

function(hotbox_add_plugin name dir)
  get_filename_component(_abs "${dir}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT IS_DIRECTORY "${_abs}")
    message(FATAL_ERROR "hotbox_add_plugin(${name}): ${_abs} is not a directory")
  endif()
  set_property(GLOBAL PROPERTY HOTBOX_PLUGIN_DIR_${name} "${_abs}")
  _hotbox_executable(_hb)
  add_test(NAME hotbox_build_${name}
    COMMAND "${_hb}" --state-dir "${CMAKE_CURRENT_BINARY_DIR}/hotbox-state" -q build "${_abs}")
endfunction()

function(hotbox_add_tests name)
  cmake_parse_arguments(HT "" "TIMEOUT;STATE_DIR" "ARGS;ENVIRONMENT" ${ARGN})
  set(_dirs)
  foreach(d IN LISTS HT_UNPARSED_ARGUMENTS)
    get_property(_named GLOBAL PROPERTY HOTBOX_PLUGIN_DIR_${d})
    if(_named)
      list(APPEND _dirs "${_named}")
    else()
      get_filename_component(_abs "${d}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
      if(NOT IS_DIRECTORY "${_abs}")
        message(FATAL_ERROR "hotbox_add_tests(${name}): ${d} is neither a directory nor a hotbox_add_plugin name")
      endif()
      list(APPEND _dirs "${_abs}")
    endif()
  endforeach()
  if(NOT _dirs)
    message(FATAL_ERROR "hotbox_add_tests(${name}): no plugin directories given")
  endif()
  if(NOT HT_STATE_DIR)
    set(HT_STATE_DIR "${CMAKE_CURRENT_BINARY_DIR}/hotbox-state")
  endif()
  if(NOT HT_TIMEOUT)
    set(HT_TIMEOUT 600)
  endif()
  _hotbox_executable(_hb)
  add_test(NAME ${name}
    COMMAND "${_hb}" --state-dir "${HT_STATE_DIR}" test
            --junit "${CMAKE_CURRENT_BINARY_DIR}/${name}.junit.xml" ${HT_ARGS} -- ${_dirs})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${HT_TIMEOUT} LABELS hotbox)
  if(HT_ENVIRONMENT)
    set_tests_properties(${name} PROPERTIES ENVIRONMENT "${HT_ENVIRONMENT}")
  endif()
endfunction()
