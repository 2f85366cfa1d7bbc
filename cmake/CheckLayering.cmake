# runtime/ and kernels/ are a library any front end can use: they must not include Qt.
# Checked at configure time (and by tests/unit layering test at test time).
file(GLOB_RECURSE _ll_core_sources
     "${CMAKE_SOURCE_DIR}/runtime/*.h" "${CMAKE_SOURCE_DIR}/runtime/*.cpp"
     "${CMAKE_SOURCE_DIR}/kernels/*.h" "${CMAKE_SOURCE_DIR}/kernels/*.cpp"
     "${CMAKE_SOURCE_DIR}/kernels/*.cu" "${CMAKE_SOURCE_DIR}/kernels/*.cuh")
foreach(_f IN LISTS _ll_core_sources)
  file(STRINGS "${_f}" _qt_includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]Q[A-Za-z]")
  if(_qt_includes)
    message(FATAL_ERROR "Layering violation: ${_f} includes a Qt header (${_qt_includes}). "
                        "runtime/ and kernels/ must stay Qt-free.")
  endif()
endforeach()
