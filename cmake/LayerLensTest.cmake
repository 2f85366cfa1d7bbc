# ll_add_test(NAME SOURCES... LABELS l1 [l2] LIBS ... [ENV K=V ...] [TIMEOUT s])
# Registers a test executable with ctest, labelled (DESIGN.md §7), with LAYERLENS_SHARED_DIR set
# so tests find ../shared/models and ../shared/reference (they skip with a message without it).
function(ll_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LABELS;LIBS;ENV" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/support ${CMAKE_SOURCE_DIR})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  # A test binary whose every case skipped (no GPU, no ../shared) reports as skipped, not passed.
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    SKIP_REGULAR_EXPRESSION "Totals: 0 passed, 0 failed, [1-9][0-9]* skipped"
    ENVIRONMENT "LAYERLENS_SHARED_DIR=${LAYERLENS_SHARED_DIR};LAYERLENS_SOURCE_DIR=${CMAKE_SOURCE_DIR};${T_ENV}")
endfunction()
