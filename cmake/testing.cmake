find_package(GTest CONFIG REQUIRED)
include(GoogleTest)

# Sanitized binaries run several times slower (ASan ~2-3x, TSan 5-15x), so
# under DG_SANITIZE every test's ctest TIMEOUT is multiplied by this; the plain
# build keeps its own limits (a hang there still fails in minutes).
if(DG_SANITIZE STREQUAL "thread")
  set(DG_TEST_TIMEOUT_SCALE 4)
elseif(DG_SANITIZE)
  set(DG_TEST_TIMEOUT_SCALE 3)
else()
  set(DG_TEST_TIMEOUT_SCALE 1)
endif()

# dg_timeout(<out var> <seconds>): the ctest TIMEOUT for a test that needs
# <seconds> in the plain build, scaled for sanitizer builds.
function(dg_timeout out seconds)
  math(EXPR scaled "${seconds} * ${DG_TEST_TIMEOUT_SCALE}")
  set(${out} ${scaled} PARENT_SCOPE)
endfunction()

# dg_unit_test(NAME SOURCES a.cpp b.cpp LIBS dg_storage ...): a GoogleTest binary whose
# cases ctest runs one by one, labelled "unit".
function(dg_unit_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  dg_warnings(${name})
  # A hung unit test fails in minutes instead of holding CI for ctest's 25-minute default.
  dg_timeout(timeout 240)
  dg_timeout(discovery_timeout 60)
  gtest_discover_tests(${name} PROPERTIES LABELS unit TIMEOUT ${timeout}
                       DISCOVERY_TIMEOUT ${discovery_timeout})
endfunction()

# Adds every immediate subfolder of `dir` that has a CMakeLists.txt (a folder per part).
function(dg_add_subfolders dir)
  file(GLOB children LIST_DIRECTORIES true ${dir}/*)
  list(SORT children)
  foreach(child ${children})
    if(IS_DIRECTORY ${child} AND EXISTS ${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()
