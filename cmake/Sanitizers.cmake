# Sanitizer and fuzzing builds of the userspace code (bpf/ is compiled by clang -target bpf through a
# custom command and is never instrumented).
#
#   -DSYNWHY_SANITIZE=ON  ASan + UBSan for synwhy_lib and everything linking it (synwhy, unit_tests):
#                         scripts/sanitize.sh builds build-san and runs ctest there.
#   -DSYNWHY_FUZZ=ON      clang only: synwhy_lib with -fsanitize=fuzzer-no-link,address,undefined and
#                         the libFuzzer targets of tests/fuzz (scripts/fuzz.sh builds build-fuzz).
option(SYNWHY_SANITIZE "build with ASan+UBSan" OFF)
option(SYNWHY_FUZZ "build the libFuzzer targets of tests/fuzz (clang, implies ASan+UBSan)" OFF)

set(SYNWHY_SANITIZER_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)

if(SYNWHY_FUZZ AND NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "SYNWHY_FUZZ needs clang: configure with CC=clang CXX=clang++")
endif()

# Instruments `target` and, through its INTERFACE, whatever links it: the flags must be on every
# object and on the link of every executable built from sanitized objects.
function(synwhy_sanitize target)
  if(NOT (SYNWHY_SANITIZE OR SYNWHY_FUZZ))
    return()
  endif()
  target_compile_options(${target} PUBLIC ${SYNWHY_SANITIZER_FLAGS})
  target_link_options(${target} PUBLIC ${SYNWHY_SANITIZER_FLAGS})
  if(SYNWHY_FUZZ)
    # Coverage for the fuzzer without libFuzzer's main(); the fuzz targets link -fsanitize=fuzzer.
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endfunction()
