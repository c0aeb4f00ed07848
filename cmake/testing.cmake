find_package(GTest CONFIG REQUIRED)
include(GoogleTest)

# dg_unit_test(NAME SOURCES a.cpp b.cpp LIBS dg_storage ...): a GoogleTest binary whose
# cases ctest runs one by one, labelled "unit".
function(dg_unit_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  dg_warnings(${name})
  # A hung unit test fails in minutes instead of holding CI for ctest's 25-minute default.
  gtest_discover_tests(${name} PROPERTIES LABELS unit TIMEOUT 240 DISCOVERY_TIMEOUT 60)
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
