# Runs a test executable that must FAIL (non-zero exit) and print an expected message.
# Used to check that the render test fails, rather than skips, when lavapipe is expected but the
# Vulkan driver is hidden.  cmake -DEXE=... -DPATTERN=... -P expect_failure.cmake
execute_process(COMMAND ${EXE} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "expected ${EXE} to fail, but it exited with 0")
endif()
if(NOT "${out}${err}" MATCHES "${PATTERN}")
  message(FATAL_ERROR "expected output matching '${PATTERN}'")
endif()
message("OK: failed as expected (exit ${rc}) with the expected message")
