// Fast math mode's matmul driver: prepares the activations once per call (bf16 pairs or int8
// blocks), then packs weight panels into per-thread scratch and runs the panel kernels.
#include "kernels/cpu/fast_matmul.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/cpu_matmul.h"
#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/scratch.h"

namespace ll::kern {
namespace {

using namespace fast;

enum class Kind { None, Bf16, Int8 };

Kind kindFor(QType type, const CpuFeatures& f) {
  switch (type) {
    case QType::F16:
    case QType::BF16:
      return f.bf16Kernels() ? Kind::Bf16 : Kind::None;
    default:
      return hasInt8Form(type) && f.int8Kernels() ? Kind::Int8 : Kind::None;
  }
}

// Weight rows per panel: whole strips, the packed panel within ~512 KiB so it stays in L2 while
// every activation row passes over it. Depends on the shape only.
int64_t panelRows(Kind kind, int64_t cols) {
  const int64_t bytesPerRow = kind == Kind::Bf16 ? bf16Pairs(cols) * 4 : cols + cols / 8;
  int64_t strips = 4;
  while (strips > 1 && strips * kStrip * bytesPerRow > (int64_t(512) << 10)) strips /= 2;
  return strips * kStrip;
}

// Activations in the kernels' form, converted by rows over the pool (rows are independent).
struct Prepared {
  Kind kind = Kind::None;
  Int8Layout layout;
  std::vector<uint32_t> pairs;  // bf16
  std::vector<int8_t> q;        // int8
  std::vector<float> scale;
  std::vector<int32_t> corr;
  std::vector<float> xsum;
  Int8Act act() {
    return {q.data(), scale.data(), corr.data(), layout.mins ? xsum.data() : nullptr};
  }
};

void prepare(ThreadPool& pool, Kind kind, QType type, const float* x, int n, int64_t cols,
             Prepared& p) {
  p.kind = kind;
  if (kind == Kind::Bf16)
    p.pairs.resize(size_t(n) * bf16Pairs(cols));
  else {
    p.layout = int8Layout(type);
    const int64_t blocks = cols / kQBlock, groups = blocks * (kQBlock / p.layout.group);
    p.q.resize(size_t(n) * cols);
    p.scale.resize(size_t(n) * blocks);
    p.corr.resize(size_t(n) * groups);
    if (p.layout.mins) p.xsum.resize(size_t(n) * groups);
  }
  constexpr int64_t kRowsPerTask = 16;
  const Int8Act a = kind == Kind::Int8 ? p.act() : Int8Act{};
  const int group = p.layout.group;
  uint32_t* pairs = p.pairs.data();
  auto rows = [&](int64_t r0, int64_t r1) {
    if (kind == Kind::Bf16)
      bf16Activations(x, cols, r0, r1, pairs);
    else
      int8Activations(x, cols, r0, r1, a, group);
  };
  if (n <= kRowsPerTask) {
    rows(0, n);
    return;
  }
  pool.run((n + kRowsPerTask - 1) / kRowsPerTask, [&](int64_t t, int) {
    rows(t * kRowsPerTask, std::min<int64_t>(n, (t + 1) * kRowsPerTask));
  });
}

size_t packedFloats(Kind kind, Int8Layout layout, int64_t panel, int64_t cols) {
  const size_t strips = size_t(stripsFor(panel));
  const size_t bytes = kind == Kind::Bf16 ? strips * bf16Pairs(cols) * kStrip * 4
                                          : strips * int8StripBytes(cols / kQBlock, layout);
  return (bytes + 3) / 4;
}

// Activation rows up to which the int8 products skip the packed panel (generation, the
// last-word update): packing costs more than it saves there. Same bits either way.
constexpr int kDirectRows = 4;

// Packs weight rows [r0, r0 + pr) into this thread's slot-0 scratch and writes the product with
// the prepared activations to out[i * ldo + j], j < pr.
void panelProduct(Kind kind, Prepared& p, const CpuWeight& w, int n, int64_t r0, int64_t pr,
                  float* out, int64_t ldo) {
  if (kind == Kind::Int8 && n <= kDirectRows) {
    int8DirectAvx512(w, p.act(), n, r0, pr, out, ldo);
    return;
  }
  float* buf = threadScratch(packedFloats(kind, p.layout, pr, w.cols));
  if (kind == Kind::Bf16) {
    auto* panel = reinterpret_cast<uint32_t*>(buf);
    bf16PackPanel(w, r0, pr, panel);
    bf16PanelAvx512(p.pairs.data(), n, bf16Pairs(w.cols), panel, pr, out, ldo);
  } else {
    auto* panel = reinterpret_cast<uint8_t*>(buf);
    int8PackPanel(w, r0, pr, panel);
    int8PanelAvx512(p.act(), n, w.cols / kQBlock, panel, pr, out, ldo, p.layout);
  }
}

// The calling thread's prepared activations, reused across calls (generation runs one token at
// a time). The fast calls never nest, so one per thread is enough.
Prepared& callerPrepared() {
  thread_local Prepared p;
  return p;
}

}  // namespace

bool fastMatmulCovers(QType type, const CpuFeatures& features) {
  return kindFor(type, features) != Kind::None;
}

bool fastMatmul(ThreadPool& pool, const CpuFeatures& features, const CpuWeight& w, const float* x,
                float* y, int n) {
  const Kind kind = kindFor(w.type, features);
  if (kind == Kind::None || n <= 0) return kind != Kind::None;
  Prepared& p = callerPrepared();
  prepare(pool, kind, w.type, x, n, w.cols, p);
  const int64_t rows = w.rows, panel = panelRows(kind, w.cols);
  pool.run((rows + panel - 1) / panel, [&](int64_t t, int) {
    const int64_t r0 = t * panel;
    panelProduct(kind, p, w, n, r0, std::min(panel, rows - r0), y + r0, rows);
  });
  return true;
}

bool fastMatmulSwiglu(ThreadPool& pool, const CpuFeatures& features, const CpuWeight& up,
                      const float* x, float* gate, int n) {
  const Kind kind = kindFor(up.type, features);
  if (kind == Kind::None || n <= 0) return kind != Kind::None;
  Prepared& p = callerPrepared();
  prepare(pool, kind, up.type, x, n, up.cols, p);
  const int64_t rows = up.rows, panel = panelRows(kind, up.cols);
  const size_t stride = alignedStride(size_t(panel));
  pool.run((rows + panel - 1) / panel, [&](int64_t t, int) {
    const int64_t r0 = t * panel, pr = std::min(panel, rows - r0);
    float* prod = threadScratch(size_t(n) * stride, 1);
    panelProduct(kind, p, up, n, r0, pr, prod, int64_t(stride));
    for (int i = 0; i < n; ++i)
      siluMul(gate + size_t(i) * rows + r0, prod + size_t(i) * stride, pr);
  });
  return true;
}

}  // namespace ll::kern
