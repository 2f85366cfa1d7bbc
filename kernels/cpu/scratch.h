// Per-thread f32 scratch for the CPU backend, 64-byte aligned. The alignment is fixed so Eigen
// treats every thread's buffer alike (its vectorised loops peel unaligned heads with scalar code
// whose rounding differs), which keeps results independent of which thread ran which task.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

namespace ll::kern {

// A buffer of at least `floats` floats, owned by the calling thread, reused across calls (the
// previous contents are not kept when it grows). Slot (0-4) separates buffers used at the same
// time: pool tasks use 0 and 1, the thread that starts a batch 2 for what its tasks share, and
// the panel GEMM 3 and 4 inside a task (cpu_panel_gemm.cpp).
inline float* threadScratch(size_t floats, int slot = 0) {
  struct Del {
    void operator()(float* p) const { ::operator delete(p, std::align_val_t(64)); }
  };
  struct Buf {
    std::unique_ptr<float, Del> p;
    size_t cap = 0;
  };
  thread_local Buf bufs[5];
  Buf& b = bufs[slot];
  if (b.cap < floats) {
    const size_t cap = (floats + 15) / 16 * 16;
    b.p.reset(static_cast<float*>(::operator new(cap * sizeof(float), std::align_val_t(64))));
    b.cap = cap;
  }
  return b.p.get();
}

// Row stride (floats) that keeps every row 64-byte aligned.
inline size_t alignedStride(size_t floats) {
  return (floats + 15) / 16 * 16;
}

}  // namespace ll::kern
