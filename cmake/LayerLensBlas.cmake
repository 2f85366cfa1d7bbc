# The CPU backend's f32 GEMM library (kernels/cpu/cpu_sgemm.cpp): LAYERLENS_BLAS=auto picks the
# fastest one installed on the engine's shapes (tests/bench/RESULTS.md, bench_gemm), an explicit
# name requires that library, eigen uses none. Sets LL_BLAS_NAME, the cache entry LL_BLAS_DISPLAY
# (the library's name as the backend reports it) and the interface library ll_blas (the LL_BLAS_*
# define, include path and link flags).
set(LAYERLENS_BLAS auto CACHE STRING "f32 GEMM library of the CPU backend: auto, openblas, blis, dnnl or eigen")
set_property(CACHE LAYERLENS_BLAS PROPERTY STRINGS auto openblas blis dnnl eigen)

add_library(ll_blas INTERFACE)

# Looks for one library; on success fills ll_blas and sets _found.
function(ll_try_blas lib)
  set(_found FALSE PARENT_SCOPE)
  if(lib STREQUAL "openblas")
    pkg_check_modules(LL_OPENBLAS QUIET IMPORTED_TARGET GLOBAL openblas)
    if(LL_OPENBLAS_FOUND)
      target_link_libraries(ll_blas INTERFACE PkgConfig::LL_OPENBLAS)
      target_compile_definitions(ll_blas INTERFACE LL_BLAS_OPENBLAS=1)
      set(_found TRUE PARENT_SCOPE)
    endif()
  elseif(lib STREQUAL "blis")
    find_path(LL_BLIS_INCLUDE blis.h PATH_SUFFIXES blis)
    find_library(LL_BLIS_LIBRARY blis)
    if(LL_BLIS_INCLUDE AND LL_BLIS_LIBRARY)
      target_include_directories(ll_blas SYSTEM INTERFACE ${LL_BLIS_INCLUDE})
      target_link_libraries(ll_blas INTERFACE ${LL_BLIS_LIBRARY})
      target_compile_definitions(ll_blas INTERFACE LL_BLAS_BLIS=1)
      set(_found TRUE PARENT_SCOPE)
    endif()
  elseif(lib STREQUAL "dnnl")
    # Not find_package(dnnl): Debian's dnnl-config.cmake requires OpenCL (its GPU runtime). Only
    # dnnl_sgemm and dnnl_version are used. oneDNN's CPU runtime is OpenMP: its thread count is
    # set through libgomp directly (linking OpenMP::OpenMP_CXX would compile the kernels with
    # -fopenmp and thread Eigen as well).
    find_path(LL_DNNL_INCLUDE oneapi/dnnl/dnnl.h)
    find_library(LL_DNNL_LIBRARY dnnl)
    find_library(LL_GOMP_LIBRARY NAMES gomp libgomp.so.1)
    if(LL_DNNL_INCLUDE AND LL_DNNL_LIBRARY AND LL_GOMP_LIBRARY)
      target_include_directories(ll_blas SYSTEM INTERFACE ${LL_DNNL_INCLUDE})
      target_link_libraries(ll_blas INTERFACE ${LL_DNNL_LIBRARY} ${LL_GOMP_LIBRARY})
      target_compile_definitions(ll_blas INTERFACE LL_BLAS_DNNL=1)
      set(_found TRUE PARENT_SCOPE)
    endif()
  endif()
endfunction()

if(LAYERLENS_BLAS STREQUAL "auto")
  # bench_gemm on the development machine (Zen 5, AVX-512), panels at n >= 8: oneDNN 5-15% ahead
  # of OpenBLAS and 15-45% ahead of Eigen; BLIS (AVX2 kernels only in Debian's build) behind Eigen.
  set(_candidates dnnl openblas)
elseif(LAYERLENS_BLAS MATCHES "^(openblas|blis|dnnl)$")
  set(_candidates ${LAYERLENS_BLAS})
elseif(LAYERLENS_BLAS STREQUAL "eigen")
  set(_candidates)
else()
  message(FATAL_ERROR "LAYERLENS_BLAS=${LAYERLENS_BLAS}: expected auto, openblas, blis, dnnl or eigen")
endif()

set(LL_BLAS_NAME eigen)
foreach(_lib IN LISTS _candidates)
  ll_try_blas(${_lib})
  if(_found)
    set(LL_BLAS_NAME ${_lib})
    break()
  endif()
endforeach()
if(NOT LAYERLENS_BLAS STREQUAL "auto" AND NOT LL_BLAS_NAME STREQUAL LAYERLENS_BLAS)
  message(FATAL_ERROR "LAYERLENS_BLAS=${LAYERLENS_BLAS} but that library was not found "
                      "(packaging/install-deps.sh installs it)")
endif()
message(STATUS "CPU f32 GEMM library: ${LL_BLAS_NAME}")
# For tests/: how kern::sgemmLibrary() names the chosen library.
set(_display_openblas OpenBLAS)
set(_display_blis BLIS)
set(_display_dnnl oneDNN)
set(_display_eigen Eigen)
set(LL_BLAS_DISPLAY ${_display_${LL_BLAS_NAME}} CACHE INTERNAL "")
