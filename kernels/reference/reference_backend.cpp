// The reference backend: plain scalar loops over host memory, double accumulation. Slow on
// purpose; it exists so tests can compare every other backend op by op against it.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <vector>

#include "kernels/backends.h"
#include "kernels/cpu/weight_check.h"
#include "kernels/reference/reference_ops.h"

namespace ll::kern {
namespace {

class RefWeight : public Weight {
 public:
  const uint8_t* data = nullptr;  // not owned: WeightDesc::data outlives the weight
  size_t rowBytes = 0;
  std::vector<float> vec;  // rows == 1: the f32 values

  void row(int64_t r, float* dst) const {
    const uint8_t* src = data + size_t(r) * rowBytes;
    if (type == QType::F32)
      std::memcpy(dst, src, size_t(cols) * sizeof(float));
    else
      dequantizeRow(type, src, dst, cols);
  }
};

const RefWeight& asRef(const Weight& w) {
  auto* r = dynamic_cast<const RefWeight*>(&w);
  if (!r)
    throw std::invalid_argument("reference backend: weight '" + w.name +
                                "' belongs to another backend");
  return *r;
}

class ReferenceBackend final : public Backend {
 public:
  std::string name() const override { return "reference"; }
  bool hostMemory() const override { return true; }
  std::unique_ptr<Backend> sibling() const override { return std::make_unique<ReferenceBackend>(); }
  std::string deviceDescription() const override {
    return "scalar reference (host, double accumulation)";
  }

  void* alloc(size_t bytes) override {
    void* p = ::operator new(bytes ? bytes : 1, std::align_val_t(64), std::nothrow);
    if (!p)
      throw std::runtime_error("reference backend: out of memory allocating " +
                               std::to_string(bytes) + " bytes");
    return p;
  }
  void free(void* p) override {
    if (p) ::operator delete(p, std::align_val_t(64));
  }
  void upload(void* dst, const void* src, size_t bytes) override { copy(dst, src, bytes); }
  void download(void* dst, const void* src, size_t bytes) override { copy(dst, src, bytes); }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memmove(dst, src, bytes);
  }
  void fill(float* dst, float value, size_t count) override {
    for (size_t i = 0; i < count; ++i) dst[i] = value;
  }
  void sync() override {}
  size_t freeMemory() const override { return size_t(1) << 40; }

  std::unique_ptr<Weight> loadWeight(const WeightDesc& d) override {
    auto w = std::make_unique<RefWeight>();
    w->rowBytes = checkWeightDesc(d);
    w->name = d.name;
    w->type = d.type;
    w->rows = d.rows;
    w->cols = d.cols;
    w->data = static_cast<const uint8_t*>(d.data);
    if (d.rows == 1) {
      w->vec.resize(size_t(d.cols));
      w->row(0, w->vec.data());
    }
    return w;
  }
  const float* vectorData(const Weight& w) override {
    const RefWeight& r = asRef(w);
    if (r.rows != 1)
      throw std::invalid_argument("vectorData: weight '" + w.name + "' is not a vector");
    return r.vec.data();
  }

  void matmul(const Weight& w, const float* x, float* y, int n) override {
    const RefWeight& r = asRef(w);
    std::vector<float> row(size_t(r.cols));
    for (int64_t o = 0; o < r.rows; ++o) {
      r.row(o, row.data());
      for (int i = 0; i < n; ++i) {
        const float* xi = x + size_t(i) * r.cols;
        double acc = 0;
        for (int64_t c = 0; c < r.cols; ++c) acc += double(xi[c]) * double(row[c]);
        y[size_t(i) * r.rows + o] = float(acc);
      }
    }
  }
  void getRows(const Weight& w, const int32_t* ids, int n, float* out) override {
    const RefWeight& r = asRef(w);
    for (int i = 0; i < n; ++i) {
      if (ids[i] < 0 || ids[i] >= r.rows)
        throw std::out_of_range("getRows: row " + std::to_string(ids[i]) + " outside '" + r.name +
                                "'");
      r.row(ids[i], out + size_t(i) * r.cols);
    }
  }
  void rmsNorm(const float* x, const float* w, float* y, int n, int dim, float eps) override {
    for (int r = 0; r < n; ++r) {
      const float* xr = x + size_t(r) * dim;
      double ss = 0;
      for (int d = 0; d < dim; ++d) ss += double(xr[d]) * xr[d];
      const double inv = 1.0 / std::sqrt(ss / dim + eps);
      float* yr = y + size_t(r) * dim;
      for (int d = 0; d < dim; ++d) yr[d] = float(xr[d] * inv * (w ? w[d] : 1.0));
    }
  }
  void layerNorm(const float* x, const float* w, const float* b, float* y, int n, int dim,
                 float eps) override {
    for (int r = 0; r < n; ++r) {
      const float* xr = x + size_t(r) * dim;
      double mean = 0, var = 0;
      for (int d = 0; d < dim; ++d) mean += xr[d];
      mean /= dim;
      for (int d = 0; d < dim; ++d) var += (xr[d] - mean) * (xr[d] - mean);
      var /= dim;
      const double inv = 1.0 / std::sqrt(var + eps);
      float* yr = y + size_t(r) * dim;
      for (int d = 0; d < dim; ++d)
        yr[d] = float((xr[d] - mean) * inv * (w ? w[d] : 1.0) + (b ? b[d] : 0.0));
    }
  }
  void rope(float* x, const int32_t* positions, int n, int nHead, int headDim,
            const RopeParams& p) override {
    ref::rope(x, positions, n, nHead, headDim, p);
  }
  void attention(const AttnArgs& a) override { ref::attention(a); }
  void attentionMap(const AttnArgs& a, int head, float* out) override {
    ref::attentionMap(a, head, out);
  }

  void addBias(float* x, const float* bias, int n, int dim) override {
    for (int r = 0; r < n; ++r)
      for (int d = 0; d < dim; ++d) x[size_t(r) * dim + d] += bias[d];
  }
  void add(const float* a, const float* b, float* y, size_t count) override {
    for (size_t i = 0; i < count; ++i) y[i] = a[i] + b[i];
  }
  void addRowVector(float* x, const float* v, float alpha, int rowBegin, int n, int dim) override {
    for (int r = std::max(rowBegin, 0); r < n; ++r)
      for (int d = 0; d < dim; ++d)
        x[size_t(r) * dim + d] = float(x[size_t(r) * dim + d] + double(alpha) * v[d]);
  }
  void swiglu(const float* gate, const float* up, float* y, size_t count) override {
    for (size_t i = 0; i < count; ++i) {
      const double g = gate[i];
      y[i] = float(g / (1.0 + std::exp(-g)) * up[i]);
    }
  }
  void gelu(float* x, size_t count) override {
    // 0.5x(1 + tanh(z)) == x * sigmoid(2z); the latter keeps full relative precision for z << 0.
    const double k = std::sqrt(2.0 / 3.14159265358979323846);
    for (size_t i = 0; i < count; ++i) {
      const double v = x[i];
      const double z = k * (v + 0.044715 * v * v * v);
      x[i] = float(v / (1.0 + std::exp(-2.0 * z)));
    }
  }
  void glu(Glu kind, const float* gate, const float* up, float* y, size_t count) override {
    const double k = std::sqrt(2.0 / 3.14159265358979323846);
    for (size_t i = 0; i < count; ++i) {
      double g = gate[i], u = up[i], a = 0;
      switch (kind) {
        case Glu::Silu:
          a = g / (1.0 + std::exp(-g));
          break;
        case Glu::GeluTanh:
          a = g / (1.0 + std::exp(-2.0 * k * (g + 0.044715 * g * g * g)));
          break;
        case Glu::SiluOai:
          g = std::min(g, double(kOaiSwigluLimit));
          u = std::clamp(u, -double(kOaiSwigluLimit), double(kOaiSwigluLimit)) + 1.0;
          a = g / (1.0 + std::exp(-double(kOaiSwigluAlpha) * g));
          break;
      }
      y[i] = float(a * u);
    }
  }
  void softcap(float* x, float cap, size_t count) override {
    for (size_t i = 0; i < count; ++i) x[i] = float(double(cap) * std::tanh(double(x[i]) / cap));
  }
  void scaleRows(float* x, const float* s, int n, int dim) override {
    for (int r = 0; r < n; ++r)
      for (int d = 0; d < dim; ++d) x[size_t(r) * dim + d] *= s[r];
  }
  void sigmoid(float* x, size_t count) override {
    for (size_t i = 0; i < count; ++i) x[i] = float(1.0 / (1.0 + std::exp(-double(x[i]))));
  }
  void gatherRows(const float* src, const int32_t* idx, int n, int dim, float* dst) override {
    for (int i = 0; i < n; ++i)
      std::memcpy(dst + size_t(i) * dim, src + size_t(idx[i]) * dim, size_t(dim) * sizeof(float));
  }
  void scatterAddRows(const float* src, const int32_t* idx, const float* w, int n, int dim,
                      float* dst) override {
    for (int i = 0; i < n; ++i) {
      const double wi = w ? w[i] : 1.0;
      float* d = dst + size_t(idx[i]) * dim;
      for (int c = 0; c < dim; ++c) d[c] = float(d[c] + wi * src[size_t(i) * dim + c]);
    }
  }
};

}  // namespace

std::unique_ptr<Backend> makeReferenceBackend() {
  return std::make_unique<ReferenceBackend>();
}

}  // namespace ll::kern
