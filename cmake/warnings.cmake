# Warnings for our own targets only (not for generated protobuf code).
function(dg_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
                                           -Wnull-dereference -Wimplicit-fallthrough)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # Beast/Asio trip these inside Boost headers with GCC 12.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized -Wno-null-dereference)
  endif()
  if(DG_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
