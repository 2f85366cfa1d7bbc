// Infrastructure of the op checks (guarded buffers, NMSE) and the checks of the simple ops.
#include "backend_checks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>

#include "backend_checks_util.h"

namespace lltest::ops {

void CheckLog::expect(bool ok, const std::string& what) {
  ++checks;
  if (!ok) failures.push_back(what);
}

std::string CheckLog::summary(size_t maxLines) const {
  std::ostringstream os;
  os << failures.size() << " of " << checks << " checks failed (seed " << seed
     << ", replay with LAYERLENS_TEST_SEED=" << seed << ")";
  for (size_t i = 0; i < failures.size() && i < maxLines; ++i) os << "\n     " << failures[i];
  return os.str();
}

uint64_t freshSeed() {
  if (const char* s = std::getenv("LAYERLENS_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  std::random_device rd;
  return (uint64_t(rd()) << 32) ^ rd();
}

GuardedBuf::GuardedBuf(kern::Backend& b, size_t count) : m_b(b) {
  init(nullptr, count * 4);
}
GuardedBuf::GuardedBuf(kern::Backend& b, const std::vector<float>& h) : m_b(b) {
  init(h.data(), h.size() * 4);
}
GuardedBuf::GuardedBuf(kern::Backend& b, const std::vector<int32_t>& h) : m_b(b) {
  init(h.data(), h.size() * 4);
}
GuardedBuf::GuardedBuf(kern::Backend& b, const std::vector<uint8_t>& h) : m_b(b) {
  init(h.data(), h.size());
}

void GuardedBuf::init(const void* payload, size_t bytes) {
  m_count = (bytes + 3) / 4;
  const size_t total = m_count + 2 * kGuard;
  std::vector<uint32_t> host(total, kSentinelBits);
  if (payload) std::memcpy(host.data() + kGuard, payload, bytes);
  m_raw = m_b.alloc(total * 4);
  m_b.upload(m_raw, host.data(), total * 4);
}

GuardedBuf::~GuardedBuf() {
  m_b.free(m_raw);
}

std::vector<float> GuardedBuf::download() const {
  std::vector<float> out(m_count);
  m_b.sync();
  if (m_count) m_b.download(out.data(), f32(), m_count * 4);
  return out;
}

void GuardedBuf::checkGuards(CheckLog& log, const std::string& what) const {
  std::vector<uint32_t> host(m_count + 2 * kGuard);
  m_b.sync();
  m_b.download(host.data(), m_raw, host.size() * 4);
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < host.size(); ++i) {
    const bool guard = i < kGuard || i >= kGuard + m_count;
    if (guard && host[i] != kSentinelBits && bad++ == 0) first = i;
  }
  log.expect(bad == 0, what + ": " + std::to_string(bad) + " guard floats overwritten (first at " +
                           std::to_string(int64_t(first) - int64_t(kGuard)) + " of " +
                           std::to_string(m_count) + ")");
}

std::vector<float> Rng::floats(size_t n, float lo, float hi) {
  std::vector<float> v(n);
  for (auto& x : v) x = uniform(lo, hi);
  return v;
}
std::vector<float> Rng::normals(size_t n, float sigma) {
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = d(m_gen);
  return v;
}
std::vector<uint8_t> Rng::bytes(size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = uint8_t(m_gen());
  return v;
}

// The denominator has a floor of n * (1e-30)^2: an output whose reference values are all near
// f32's underflow (e.g. GeGLU of a gate of -10: exp(2z) overflows f32 but not the float64
// reference, so 0 vs 1e-38) is compared on an absolute scale of 1e-30, not relatively.
double nmse(const std::vector<float>& out, const std::vector<float>& ref) {
  double num = 0, den = 0;
  const size_t n = std::min(out.size(), ref.size());
  for (size_t i = 0; i < n; ++i) {
    const double d = double(out[i]) - double(ref[i]);
    num += d * d;
    den += double(ref[i]) * ref[i];
  }
  if (den == 0) return num;     // an all-zero reference: the absolute squared error
  const double kFloor = 1e-60;  // (1e-30)^2 per element
  return num / std::max(den, double(n) * kFloor);
}

void compare(CheckLog& log, const std::string& what, const std::vector<float>& out,
             const std::vector<float>& ref, double bound) {
  if (out.size() != ref.size()) {
    log.expect(false, what + ": size " + std::to_string(out.size()) + " vs reference " +
                          std::to_string(ref.size()));
    return;
  }
  size_t nonFinite = 0, refNonFinite = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    nonFinite += !std::isfinite(out[i]);
    refNonFinite += !std::isfinite(ref[i]);
  }
  log.expect(refNonFinite == 0,
             what + ": reference has " + std::to_string(refNonFinite) + " NaN/Inf");
  log.expect(nonFinite == 0,
             what + ": " + std::to_string(nonFinite) + " NaN/Inf (or unwritten) values");
  if (nonFinite || refNonFinite) return;
  const double e = nmse(out, ref);
  char buf[64];
  std::snprintf(buf, sizeof buf, "NMSE %.3g > %.3g", e, bound);
  log.expect(e <= bound, what + ": " + buf);
}

std::string backendTag(const kern::Backend& b) {
  return b.name();
}

std::vector<float> runOp(kern::Backend& be, CheckLog& log, const std::string& what,
                         const std::vector<std::vector<float>>& inputs, size_t outCount,
                         const std::vector<float>* init, const OpFn& op) {
  std::vector<std::unique_ptr<GuardedBuf>> owned;
  std::vector<GuardedBuf*> bufs;
  for (auto& in : inputs) {
    owned.push_back(std::make_unique<GuardedBuf>(be, in));
    bufs.push_back(owned.back().get());
  }
  auto out =
      init ? std::make_unique<GuardedBuf>(be, *init) : std::make_unique<GuardedBuf>(be, outCount);
  op(be, bufs, out->f32());
  be.sync();
  const std::string tag = what + " [" + be.name() + "]";
  for (size_t i = 0; i < bufs.size(); ++i)
    bufs[i]->checkGuards(log, tag + " input " + std::to_string(i));
  out->checkGuards(log, tag + " output");
  return out->download();
}

void parity(kern::Backend& b, kern::Backend& ref, CheckLog& log, const std::string& what,
            const std::vector<std::vector<float>>& inputs, size_t outCount,
            const std::vector<float>* init, double bound, const OpFn& op) {
  auto r = runOp(ref, log, what, inputs, outCount, init, op);
  auto o = runOp(b, log, what, inputs, outCount, init, op);
  compare(log, what + " [" + b.name() + " vs " + ref.name() + "]", o, r, bound);
}

std::string dims(std::initializer_list<std::pair<const char*, int64_t>> kv) {
  std::string s = "(";
  for (auto& [k, v] : kv) s += std::string(s.size() > 1 ? " " : "") + k + "=" + std::to_string(v);
  return s + ")";
}

void checkMemory(kern::Backend& b, kern::Backend&, CheckLog& log, const Tolerances&) {
  Rng rng(log.seed ^ 0x11);
  for (size_t count : {size_t(1), size_t(7), size_t(1000), size_t(100003)}) {
    auto src = rng.floats(count, -100, 100);
    GuardedBuf a(b, src), c(b, count), f(b, count);
    b.copy(c.f32(), a.f32(), count * 4);
    b.fill(f.f32(), 3.25f, count);
    auto got = c.download();
    auto filled = f.download();
    log.expect(std::memcmp(got.data(), src.data(), count * 4) == 0,
               "upload/copy/download round trip " + dims({{"count", int64_t(count)}}) + " [" +
                   b.name() + "]");
    size_t wrong = 0;
    for (float v : filled) wrong += v != 3.25f;
    log.expect(wrong == 0, "fill " + dims({{"count", int64_t(count)}}) + ": " +
                               std::to_string(wrong) + " wrong");
    a.checkGuards(log, "copy source");
    c.checkGuards(log, "copy " + dims({{"count", int64_t(count)}}));
    f.checkGuards(log, "fill " + dims({{"count", int64_t(count)}}));
  }
  log.expect(b.freeMemory() > 0, "freeMemory() > 0 [" + b.name() + "]");
}

void checkElementwise(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol) {
  Rng rng(log.seed ^ 0x22);
  for (size_t count : {size_t(1), size_t(7), size_t(33), size_t(4099), size_t(100003)}) {
    const std::string d = dims({{"count", int64_t(count)}});
    auto x = rng.floats(count, -10, 10), y = rng.floats(count, -3, 3);
    parity(b, ref, log, "add " + d, {x, y}, count, nullptr, tol.exact,
           [&](kern::Backend& be, auto& in, float* out) {
             be.add(in[0]->f32(), in[1]->f32(), out, count);
           });
    // y may alias a: in place add.
    parity(b, ref, log, "add in place " + d, {y}, count, &x, tol.exact,
           [&](kern::Backend& be, auto& in, float* out) { be.add(out, in[0]->f32(), out, count); });
    parity(b, ref, log, "gelu " + d, {}, count, &x, tol.elementwise,
           [&](kern::Backend& be, auto&, float* out) { be.gelu(out, count); });
    parity(b, ref, log, "sigmoid " + d, {}, count, &x, tol.elementwise,
           [&](kern::Backend& be, auto&, float* out) { be.sigmoid(out, count); });
    auto gate = rng.floats(count, -20, 20);
    parity(b, ref, log, "swiglu " + d, {gate, y}, count, nullptr, tol.elementwise,
           [&](kern::Backend& be, auto& in, float* out) {
             be.swiglu(in[0]->f32(), in[1]->f32(), out, count);
           });
    auto up = rng.floats(count, -12, 12);  // past gpt-oss's clamp at +-7
    for (auto [kind, name] :
         {std::pair{kern::Glu::Silu, "glu silu "}, std::pair{kern::Glu::GeluTanh, "glu gelu_tanh "},
          std::pair{kern::Glu::SiluOai, "glu silu_oai "}})
      parity(b, ref, log, name + d, {gate, up}, count, nullptr, tol.elementwise,
             [&](kern::Backend& be, auto& in, float* out) {
               be.glu(kind, in[0]->f32(), in[1]->f32(), out, count);
             });
    for (float cap : {0.5f, 5.0f, 30.0f})
      parity(b, ref, log, "softcap " + std::to_string(cap) + " " + d, {}, count, &x,
             tol.elementwise,
             [&](kern::Backend& be, auto&, float* out) { be.softcap(out, cap, count); });
  }
  struct Shape {
    int n, dim;
  };
  for (Shape s : {Shape{1, 1}, Shape{1, 4096}, Shape{5, 33}, Shape{17, 2048}, Shape{129, 67}}) {
    const std::string d = dims({{"n", s.n}, {"dim", s.dim}});
    const size_t count = size_t(s.n) * s.dim;
    auto x = rng.floats(count, -5, 5), bias = rng.floats(size_t(s.dim)),
         sc = rng.floats(size_t(s.n), -2, 2);
    parity(b, ref, log, "addBias " + d, {bias}, count, &x, tol.exact,
           [&](kern::Backend& be, auto& in, float* out) {
             be.addBias(out, in[0]->f32(), s.n, s.dim);
           });
    parity(b, ref, log, "scaleRows " + d, {sc}, count, &x, tol.exact,
           [&](kern::Backend& be, auto& in, float* out) {
             be.scaleRows(out, in[0]->f32(), s.n, s.dim);
           });
    for (int rowBegin : {0, s.n / 2, s.n}) {
      const float alpha = rng.uniform(-4, 4);
      parity(b, ref, log, "addRowVector " + d + " rowBegin=" + std::to_string(rowBegin), {bias},
             count, &x, tol.exact, [&](kern::Backend& be, auto& in, float* out) {
               be.addRowVector(out, in[0]->f32(), alpha, rowBegin, s.n, s.dim);
             });
    }
  }
}

void checkNorms(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol) {
  Rng rng(log.seed ^ 0x33);
  struct Shape {
    int n, dim;
  };
  for (Shape s : {Shape{1, 1}, Shape{1, 4096}, Shape{3, 33}, Shape{64, 768}, Shape{7, 5120},
                  Shape{2, 4096}, Shape{4, 33}}) {
    const std::string d = dims({{"n", s.n}, {"dim", s.dim}});
    const size_t count = size_t(s.n) * s.dim;
    // An offset and varied scale per run so layerNorm's mean subtraction matters.
    const float offset = rng.uniform(-3, 3);
    // Every other run uses tiny activations, where eps is comparable to the mean square and a
    // backend that drops or misplaces eps fails.
    const float mag = s.n % 2 ? 1.0f : 1e-3f;
    auto x = rng.floats(count, mag * (offset - 2), mag * (offset + 2)),
         w = rng.floats(size_t(s.dim), 0.5f, 1.5f), bias = rng.floats(size_t(s.dim));
    for (float eps : {1e-5f, 1e-6f}) {
      parity(b, ref, log, "rmsNorm " + d, {x, w}, count, nullptr, tol.norm,
             [&](kern::Backend& be, auto& in, float* out) {
               be.rmsNorm(in[0]->f32(), in[1]->f32(), out, s.n, s.dim, eps);
             });
      parity(b, ref, log, "rmsNorm no weight " + d, {x}, count, nullptr, tol.norm,
             [&](kern::Backend& be, auto& in, float* out) {
               be.rmsNorm(in[0]->f32(), nullptr, out, s.n, s.dim, eps);
             });
      parity(b, ref, log, "layerNorm " + d, {x, w, bias}, count, nullptr, tol.norm,
             [&](kern::Backend& be, auto& in, float* out) {
               be.layerNorm(in[0]->f32(), in[1]->f32(), in[2]->f32(), out, s.n, s.dim, eps);
             });
      parity(b, ref, log, "layerNorm no affine " + d, {x}, count, nullptr, tol.norm,
             [&](kern::Backend& be, auto& in, float* out) {
               be.layerNorm(in[0]->f32(), nullptr, nullptr, out, s.n, s.dim, eps);
             });
    }
  }
}

void checkRows(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol) {
  Rng rng(log.seed ^ 0x44);
  struct Shape {
    int nSrc, n, dim;
  };
  for (Shape s : {Shape{1, 1, 1}, Shape{10, 4, 33}, Shape{64, 100, 2048}, Shape{300, 17, 7}}) {
    const std::string d = dims({{"nSrc", s.nSrc}, {"n", s.n}, {"dim", s.dim}});
    auto src = rng.floats(size_t(s.nSrc) * s.dim, -5, 5);
    std::vector<int32_t> idx(s.n);
    for (auto& i : idx) i = rng.intIn(0, s.nSrc - 1);  // repeats allowed for gather
    std::vector<float> idxF(s.n);
    std::memcpy(idxF.data(), idx.data(), idx.size() * 4);  // ints travel bitwise in float buffers
    parity(b, ref, log, "gatherRows " + d, {src, idxF}, size_t(s.n) * s.dim, nullptr, tol.exact,
           [&](kern::Backend& be, auto& in, float* out) {
             be.gatherRows(in[0]->f32(), in[1]->i32(), s.n, s.dim, out);
           });
    // scatterAddRows: idx unique within one call; w per row; dst pre-filled.
    const int nScatter = std::min(s.n, s.nSrc);
    std::vector<int32_t> perm(s.nSrc);
    for (int i = 0; i < s.nSrc; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng.gen());
    std::vector<float> uIdx(nScatter);
    std::memcpy(uIdx.data(), perm.data(), size_t(nScatter) * 4);
    auto rowsIn = rng.floats(size_t(nScatter) * s.dim, -5, 5),
         w = rng.floats(size_t(nScatter), 0, 1);
    parity(b, ref, log, "scatterAddRows " + d, {rowsIn, uIdx, w}, src.size(), &src, tol.exact,
           [&](kern::Backend& be, auto& in, float* out) {
             be.scatterAddRows(in[0]->f32(), in[1]->i32(), in[2]->f32(), nScatter, s.dim, out);
           });
  }
}

void checkAllOps(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol) {
  checkMemory(b, ref, log, tol);
  checkElementwise(b, ref, log, tol);
  checkNorms(b, ref, log, tol);
  checkRows(b, ref, log, tol);
  checkRope(b, ref, log, tol);
  checkWeights(b, ref, log, tol);
  checkMatmul(b, ref, log, tol);
  checkAttention(b, ref, log, tol);
  checkAttentionMap(b, ref, log, tol);
}

}  // namespace lltest::ops
