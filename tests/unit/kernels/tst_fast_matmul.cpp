// The CPU backend's fast math mode (kernels/cpu/fast_*): each AVX-512 panel kernel against its
// scalar reference (bit for bit) on every weight type it covers, the int8 forms against
// dequantizeRow, the fast matmul against the precise f32 matmul within stated
// bounds, independence of thread count and batch size, the fallback when a CPU feature is
// missing, and LAYERLENS_CPU_MATH parsing. Random shapes with ragged edges, fresh seed per run.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend_checks.h"
#include "backend_checks_util.h"
#include "kernels/backends.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/cpu_matmul.h"
#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_matmul.h"
#include "kernels/quant.h"
#include "lltest.h"

using namespace ll::kern;
using lltest::ops::Rng;

namespace {

// A weight over random file bytes of the type (sane scales), as the backend would load it.
struct TestWeight {
  std::vector<uint8_t> bytes;
  CpuWeight w;
  TestWeight(uint64_t seed, QType type, int64_t rows, int64_t cols) {
    bytes = lltest::ops::randomWeightBytes(seed, type, rows, cols);
    w.type = type;
    w.rows = rows;
    w.cols = cols;
    w.rowBytes = rowBytes(type, cols);
    w.data = bytes.data();
    w.name = "test";
  }
};

struct Shape {
  int n;
  int64_t rows, cols;
};

// Ragged on every axis: n not a multiple of the row tiles, rows not of 16 or of the panels,
// odd cols for the bf16 pairs, an odd number of 32-blocks for the int8 strips. block: the
// weight type's block length (1, 32 or 256), which cols must be a multiple of.
std::vector<Shape> shapes(Rng& rng, int block) {
  std::vector<Shape> s;
  if (block == 256)
    s = {{1, 16, 256}, {13, 33, 512}, {29, 70, 768}, {8, 17, 256}};
  else
    s = {{1, 16, 64}, {13, 33, 96}, {29, 70, 160}, {8, 17, 32}};
  for (int i = 0; i < 4; ++i) {
    const int64_t cols = block == 1 ? rng.intIn(1, 300) : block * rng.intIn(1, 12 * 32 / block);
    s.push_back({rng.intIn(1, 40), rng.intIn(1, 150), cols});
  }
  return s;
}

// Every weight type with an int8 form, and its block length.
const std::vector<QType> kInt8Types = {
    QType::Q8_0, QType::Q4_0, QType::Q4_1, QType::Q5_0,   QType::Q5_1,   QType::Q2_K, QType::Q3_K,
    QType::Q4_K, QType::Q5_K, QType::Q6_K, QType::IQ4_NL, QType::IQ4_XS, QType::MXFP4};
int blockOf(QType t) {
  return qtypeInfo(t).blockSize;
}

// Activations in the int8 kernels' form for weights of type t (groups and x sums as the layout
// needs), owning their storage.
struct Int8Input {
  std::vector<int8_t> q;
  std::vector<float> scale, xsum;
  std::vector<int32_t> corr;
  fast::Int8Act act;
  Int8Input(QType t, const std::vector<float>& x, int n, int64_t cols) {
    const fast::Int8Layout l = fast::int8Layout(t);
    const int64_t blocks = cols / fast::kQBlock, groups = blocks * (fast::kQBlock / l.group);
    q.resize(size_t(n) * cols);
    scale.resize(size_t(n) * blocks);
    corr.resize(size_t(n) * groups);
    xsum.resize(size_t(n) * groups);
    act = {q.data(), scale.data(), corr.data(), l.mins ? xsum.data() : nullptr};
    fast::int8Activations(x.data(), cols, 0, n, act, l.group);
  }
};

std::string shapeTag(QType t, const Shape& s) {
  return std::string(qtypeName(t)) + " n=" + std::to_string(s.n) +
         " rows=" + std::to_string(s.rows) + " cols=" + std::to_string(s.cols);
}

// Largest |a - b| over max(1, |b|): relative for large values, absolute near zero.
double maxRelDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(double(a[i]) - b[i]) / std::max(1.0, std::fabs(double(b[i])));
    if (!(d <= m)) m = std::isnan(d) ? INFINITY : d;
  }
  return m;
}

void requireFeatures(bool bf16) {
  const CpuFeatures& f = detectedCpuFeatures();
  if (bf16 ? !f.bf16Kernels() : !f.int8Kernels())
    QSKIP(std::string("this CPU lacks ") + (bf16 ? "AVX512_BF16" : "AVX512_VNNI") + " (has " +
          f.describe() + "): the fallback test covers it");
}

// vdpbf16ps panel kernel == the scalar reference, bit for bit, on F16 and BF16 weights; so are
// the packed panels.
LL_TEST(bf16KernelMatchesScalar) {
  requireFeatures(true);
  const uint64_t seed = lltest::ops::freshSeed();
  Rng rng(seed);
  std::printf("INFO   : seed %llu\n", static_cast<unsigned long long>(seed));
  for (QType t : {QType::F16, QType::BF16})
    for (const Shape& s : shapes(rng, 1)) {
      TestWeight tw(rng.gen()(), t, s.rows, s.cols);
      const auto x = rng.normals(size_t(s.n) * s.cols);
      const int64_t pairs = fast::bf16Pairs(s.cols);
      std::vector<uint32_t> act(size_t(s.n) * pairs);
      fast::bf16Activations(x.data(), s.cols, 0, s.n, act.data());
      std::vector<uint32_t> panel(size_t(fast::stripsFor(s.rows)) * pairs * fast::kStrip);
      fast::bf16PackPanel(tw.w, 0, s.rows, panel.data());
      // The gathering packer writes the scalar packer's bits, from any first row.
      for (int64_t r0 : {int64_t(0), s.rows / 3}) {
        const int64_t count = s.rows - r0, words = fast::stripsFor(count) * pairs * fast::kStrip;
        std::vector<uint32_t> a(size_t(words), 1u), b(size_t(words), 2u);
        fast::bf16PackPanel(tw.w, r0, count, a.data());
        fast::bf16PackPanelScalar(tw.w, r0, count, b.data());
        QVERIFY2(a == b, shapeTag(t, s) + ": packed panels differ from row " + std::to_string(r0));
      }
      // ldy past rows: the kernel must write only its count columns.
      const int64_t ldy = s.rows + 3;
      std::vector<float> simd(size_t(s.n) * ldy, -7.0f), ref(size_t(s.n) * ldy, -7.0f);
      fast::bf16PanelAvx512(act.data(), s.n, pairs, panel.data(), s.rows, simd.data(), ldy);
      fast::bf16PanelScalar(act.data(), s.n, pairs, panel.data(), s.rows, ref.data(), ldy);
      QVERIFY2(std::memcmp(simd.data(), ref.data(), simd.size() * 4) == 0,
               shapeTag(t, s) + ": differs from the scalar reference by " +
                   std::to_string(maxRelDiff(simd, ref)));
    }
}

// vpdpbusd panel kernel == the scalar reference, bit for bit, on every type with an int8 form
// (groups of 32 and of 16, with and without mins); so are the packed panels.
LL_TEST(int8KernelMatchesScalar) {
  requireFeatures(false);
  const uint64_t seed = lltest::ops::freshSeed();
  Rng rng(seed);
  std::printf("INFO   : seed %llu\n", static_cast<unsigned long long>(seed));
  for (QType t : kInt8Types)
    for (const Shape& s : shapes(rng, blockOf(t))) {
      TestWeight tw(rng.gen()(), t, s.rows, s.cols);
      auto x = rng.normals(size_t(s.n) * s.cols);
      if (s.n > 1) std::fill(x.begin(), x.begin() + 32, 0.0f);  // an all-zero block: scale 0
      const Int8Input in(t, x, s.n, s.cols);
      const fast::Int8Layout l = fast::int8Layout(t);
      const int64_t blocks = s.cols / fast::kQBlock;
      const size_t stripBytes = fast::int8StripBytes(blocks, l);
      std::vector<uint8_t> panel(size_t(fast::stripsFor(s.rows)) * stripBytes);
      fast::int8PackPanel(tw.w, 0, s.rows, panel.data());
      for (int64_t r0 : {int64_t(0), s.rows / 3}) {
        const int64_t count = s.rows - r0;
        const size_t bytes = size_t(fast::stripsFor(count)) * stripBytes;
        std::vector<uint8_t> a(bytes, 1), b(bytes, 2);
        fast::int8PackPanel(tw.w, r0, count, a.data());
        fast::int8PackPanelScalar(tw.w, r0, count, b.data());
        QVERIFY2(a == b, shapeTag(t, s) + ": packed panels differ from row " + std::to_string(r0));
      }
      const int64_t ldy = s.rows + 5;
      std::vector<float> simd(size_t(s.n) * ldy, -7.0f), ref(size_t(s.n) * ldy, -7.0f);
      fast::int8PanelAvx512(in.act, s.n, blocks, panel.data(), s.rows, simd.data(), ldy, l);
      fast::int8PanelScalar(in.act, s.n, blocks, panel.data(), s.rows, ref.data(), ldy, l);
      QVERIFY2(std::memcmp(simd.data(), ref.data(), simd.size() * 4) == 0,
               shapeTag(t, s) + ": differs from the scalar reference by " +
                   std::to_string(maxRelDiff(simd, ref)));
    }
}

// The AVX-512 activation quantization == the scalar reference (bytes, scales, corrections and x
// sums), per 32-block and per 16-group, with all-zero blocks and exact .5 ties for the rounding.
LL_TEST(int8ActivationsMatchScalar) {
  requireFeatures(false);
  const uint64_t seed = lltest::ops::freshSeed();
  Rng rng(seed);
  std::printf("INFO   : seed %llu\n", static_cast<unsigned long long>(seed));
  for (int group : {32, 16})
    for (int trial = 0; trial < 6; ++trial) {
      const int n = rng.intIn(1, 20);
      const int64_t cols = 32 * rng.intIn(1, 40), blocks = cols / 32, groups = cols / group;
      auto x = rng.normals(size_t(n) * cols);
      std::fill(x.begin(), x.begin() + 32, 0.0f);
      // A block of max 127 with half-integers: every value a rounding tie.
      for (int j = 0; j < 32 && cols >= 64; ++j) x[size_t(32 + j)] = j == 0 ? 127.0f : j - 15.5f;
      std::vector<int8_t> q1(size_t(n) * cols), q2(q1.size());
      std::vector<float> s1(size_t(n) * blocks), s2(s1.size()), x1(size_t(n) * groups),
          x2(x1.size());
      std::vector<int32_t> c1(size_t(n) * groups), c2(c1.size());
      fast::int8Activations(x.data(), cols, 0, n, {q1.data(), s1.data(), c1.data(), x1.data()},
                            group);
      fast::int8ActivationsScalar(x.data(), cols, 0, n,
                                  {q2.data(), s2.data(), c2.data(), x2.data()}, group);
      const std::string tag = "group " + std::to_string(group) + " n=" + std::to_string(n) +
                              " cols=" + std::to_string(cols);
      QVERIFY2(q1 == q2, tag + ": quantized bytes differ");
      QVERIFY2(std::memcmp(s1.data(), s2.data(), s1.size() * 4) == 0, tag + ": scales differ");
      QVERIFY2(c1 == c2, tag + ": corrections differ");
      QVERIFY2(std::memcmp(x1.data(), x2.data(), x1.size() * 4) == 0, tag + ": x sums differ");
    }
}

// The direct kernel for few activation rows (no packed panel) == the panel kernel, bit for bit,
// on every type with an int8 form, from any first row, with ragged strips and block counts.
LL_TEST(int8DirectMatchesPanel) {
  requireFeatures(false);
  const uint64_t seed = lltest::ops::freshSeed();
  Rng rng(seed);
  std::printf("INFO   : seed %llu\n", static_cast<unsigned long long>(seed));
  for (QType t : kInt8Types)
    for (Shape s : shapes(rng, blockOf(t))) {
      s.n = 1 + s.n % 4;
      TestWeight tw(rng.gen()(), t, s.rows, s.cols);
      const auto x = rng.normals(size_t(s.n) * s.cols);
      const Int8Input in(t, x, s.n, s.cols);
      const fast::Int8Layout l = fast::int8Layout(t);
      const int64_t blocks = s.cols / fast::kQBlock, r0 = s.rows / 4, count = s.rows - r0;
      std::vector<uint8_t> panel(size_t(fast::stripsFor(count)) * fast::int8StripBytes(blocks, l));
      fast::int8PackPanel(tw.w, r0, count, panel.data());
      const int64_t ldy = count + 3;
      std::vector<float> direct(size_t(s.n) * ldy, -7.0f), packed(direct.size(), -7.0f);
      fast::int8DirectAvx512(tw.w, in.act, s.n, r0, count, direct.data(), ldy);
      fast::int8PanelAvx512(in.act, s.n, blocks, panel.data(), count, packed.data(), ldy, l);
      QVERIFY2(std::memcmp(direct.data(), packed.data(), direct.size() * 4) == 0,
               shapeTag(t, s) + ": direct differs from the panel kernel by " +
                   std::to_string(maxRelDiff(direct, packed)));
    }
}

// The direct kernel reads rows chunk by chunk (16 blocks: Q8_0, Q4_0, Q4_K and Q6_K straight from
// the file bytes, the other types through a decoded row) and adds each chunk's lane sums in a
// tree: rows of several whole chunks plus a ragged (odd) tail, more activation rows than it takes
// at once (n > 4 goes in slices), and strips cut short, all bit for bit against the panel kernel.
LL_TEST(int8DirectLongRowsMatchPanel) {
  requireFeatures(false);
  const uint64_t seed = lltest::ops::freshSeed();
  Rng rng(seed);
  std::printf("INFO   : seed %llu\n", static_cast<unsigned long long>(seed));
  for (QType t : kInt8Types) {
    const int64_t unit = blockOf(t);
    // 32-blocks: one whole chunk, two chunks + 5 blocks, four chunks + 1; 256-blocks: 3 and 5
    // super-blocks (24 and 40 blocks: whole chunks and a half chunk).
    const std::vector<int64_t> colsList = unit == 256
                                              ? std::vector<int64_t>{3 * 256, 5 * 256}
                                              : std::vector<int64_t>{16 * 32, 37 * 32, 65 * 32};
    for (int64_t cols : colsList) {
      const int n = rng.intIn(1, 7);
      const int64_t rows = rng.intIn(17, 60), r0 = rng.intIn(0, 5), count = rows - r0;
      const Shape s{n, rows, cols};
      TestWeight tw(rng.gen()(), t, rows, cols);
      auto x = rng.normals(size_t(n) * cols);
      std::fill(x.begin() + 64, x.begin() + 96, 0.0f);  // a block of zeros: activation scale 0
      const Int8Input in(t, x, n, cols);
      const fast::Int8Layout l = fast::int8Layout(t);
      const int64_t blocks = cols / fast::kQBlock;
      std::vector<uint8_t> panel(size_t(fast::stripsFor(count)) * fast::int8StripBytes(blocks, l));
      fast::int8PackPanel(tw.w, r0, count, panel.data());
      const int64_t ldy = count + 2;
      std::vector<float> direct(size_t(n) * ldy, -7.0f), packed(direct.size(), -7.0f);
      fast::int8DirectAvx512(tw.w, in.act, n, r0, count, direct.data(), ldy);
      fast::int8PanelAvx512(in.act, n, blocks, panel.data(), count, packed.data(), ldy, l);
      QVERIFY2(std::memcmp(direct.data(), packed.data(), direct.size() * 4) == 0,
               shapeTag(t, s) + " r0=" + std::to_string(r0) +
                   ": direct differs from the panel kernel by " +
                   std::to_string(maxRelDiff(direct, packed)));
    }
  }
}

// The strip decoder converts Q8_0 / Q4_0 scales in hardware: the same f32 as fp16ToFp32 (what
// the scalar packer uses) for every half that is not a NaN, including subnormals and infinities.
LL_TEST(int8StripScalesEveryHalf) {
  requireFeatures(false);
  for (QType t : {QType::Q8_0, QType::Q4_0}) {
    const int64_t rows = 65536, cols = 32;
    TestWeight tw(1, t, rows, cols);
    for (int64_t r = 0; r < rows; ++r) {
      const uint16_t h = uint16_t(r);
      std::memcpy(tw.bytes.data() + size_t(r) * tw.w.rowBytes, &h, 2);
    }
    std::vector<uint8_t> q(size_t(fast::kStrip) * cols);
    std::vector<float> scales(fast::kStrip), mins(fast::kStrip);
    for (int64_t r0 = 0; r0 < rows; r0 += fast::kStrip) {
      fast::int8StripRows(tw.w, r0, fast::kStrip, q.data(), scales.data(), mins.data());
      for (int j = 0; j < fast::kStrip; ++j) {
        const float ref = fp16ToFp32(uint16_t(r0 + j));
        if (std::isnan(ref)) continue;
        QVERIFY2(std::memcmp(&ref, &scales[size_t(j)], 4) == 0,
                 std::string(qtypeName(t)) + ": half " + std::to_string(r0 + j) + " gives " +
                     std::to_string(scales[size_t(j)]) + ", fp16ToFp32 " + std::to_string(ref));
      }
    }
  }
}

// The int8 form is exact: d_g * q + m_g (f32 multiply, then add) is dequantizeRow's value, bit
// for bit, for every weight of random blocks of each type.
LL_TEST(int8FormIsExact) {
  const uint64_t seed = lltest::ops::freshSeed();
  Rng rng(seed);
  std::printf("INFO   : seed %llu\n", static_cast<unsigned long long>(seed));
  for (QType t : kInt8Types) {
    const fast::Int8Layout l = fast::int8Layout(t);
    const int64_t rows = 7, cols = 4 * 256, groups = cols / l.group;
    TestWeight tw(rng.gen()(), t, rows, cols);
    std::vector<uint8_t> q(static_cast<size_t>(cols));
    std::vector<float> d(static_cast<size_t>(groups)), m(static_cast<size_t>(groups), 0.0f);
    std::vector<float> ref(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      fast::int8DecodeRow(t, tw.w.rowPtr(r), cols, q.data(), d.data(), m.data());
      dequantizeRow(t, tw.w.rowPtr(r), ref.data(), cols);
      for (int64_t k = 0; k < cols; ++k) {
        const int64_t g = k / l.group;
        // volatile: a contracted multiply-add would round once instead of twice.
        const volatile float prod = d[size_t(g)] * float(int(q[size_t(k)]) - 128);
        const float v = l.mins ? prod + m[size_t(g)] : prod;
        QVERIFY2(std::memcmp(&v, &ref[size_t(k)], 4) == 0,
                 std::string(qtypeName(t)) + " row " + std::to_string(r) + " k " +
                     std::to_string(k) + ": " + std::to_string(v) + " vs dequantized " +
                     std::to_string(ref[size_t(k)]));
      }
    }
  }
  QVERIFY(!fast::hasInt8Form(QType::F32) && !fast::hasInt8Form(QType::F16));
}

// Worst-case bound on |fast - precise| for each output, from the inputs (double precision):
// bf16 rounds x and w to 8 significant bits (relative error <= 2^-8 each), so each product is off
// by at most (2^-7 + 2^-16)|x w|; int8 rounds each activation to within d/2 = max|x_block| / 254
// (weights are exact: w = d_g q + m_g), so the error is at most sum_b d_b/2 sum_k |w_k - m_g|
// (the min term multiplies the unquantized x sum). Both sides also round their f32 sums: at most
// (cols + 32) 2^-23 sum (|x w| + |x m_g|) more.
std::vector<double> errorBounds(const CpuWeight& w, const std::vector<float>& x, int n) {
  const int64_t rows = w.rows, cols = w.cols;
  const bool bf16 = w.type == QType::F16 || w.type == QType::BF16;
  const fast::Int8Layout l = bf16 ? fast::Int8Layout{} : fast::int8Layout(w.type);
  std::vector<float> wr(static_cast<size_t>(cols)), d(static_cast<size_t>(cols / l.group)),
      m(d.size(), 0.0f);
  std::vector<uint8_t> q(static_cast<size_t>(cols));
  std::vector<double> bound(size_t(n) * rows);
  for (int64_t j = 0; j < rows; ++j) {
    dequantizeRows(w, j, 1, wr.data());
    if (!bf16) fast::int8DecodeRow(w.type, w.rowPtr(j), cols, q.data(), d.data(), m.data());
    auto minOf = [&](int64_t k) { return l.mins ? double(m[size_t(k / l.group)]) : 0.0; };
    for (int i = 0; i < n; ++i) {
      const float* xi = x.data() + size_t(i) * cols;
      double absDot = 0, quant = 0;
      for (int64_t k = 0; k < cols; ++k)
        absDot +=
            std::fabs(double(xi[k])) * (std::fabs(double(wr[size_t(k)])) + std::fabs(minOf(k)));
      if (!bf16)
        for (int64_t b = 0; b < cols / 32; ++b) {
          double amax = 0, wAbs = 0;
          for (int k = 0; k < 32; ++k) {
            amax = std::max(amax, std::fabs(double(xi[b * 32 + k])));
            wAbs += std::fabs(double(wr[size_t(b * 32 + k)]) - minOf(b * 32 + k));
          }
          quant += amax / 254.0 * wAbs * 1.0001;
        }
      const double accumulate = double(cols + 32) * 0x1p-23 * absDot;
      bound[size_t(i) * rows + j] = (bf16 ? (0x1p-7 + 0x1p-16) * absDot : quant) + accumulate;
    }
  }
  return bound;
}

}  // namespace

// The fast matmul against the precise f32 matmul of the same weights, output by output within
// errorBounds; prints the largest error as a fraction of its bound.
LL_TEST(fastMatchesPreciseWithinBounds) {
  const CpuFeatures& f = detectedCpuFeatures();
  if (!f.bf16Kernels() && !f.int8Kernels()) QSKIP("no AVX512_BF16 or VNNI: nothing fast to check");
  const uint64_t seed = lltest::ops::freshSeed();
  Rng rng(seed);
  std::printf("INFO   : seed %llu\n", static_cast<unsigned long long>(seed));
  ThreadPool pool(3);
  std::vector<QType> types = {QType::F16, QType::BF16};
  types.insert(types.end(), kInt8Types.begin(), kInt8Types.end());
  for (QType t : types) {
    if (!fastMatmulCovers(t, f)) continue;
    double worst = 0, worstAbs = 0;
    for (const Shape& s : shapes(rng, blockOf(t))) {
      TestWeight tw(rng.gen()(), t, s.rows, s.cols);
      const auto x = rng.normals(size_t(s.n) * s.cols);
      std::vector<float> fastY(size_t(s.n) * s.rows), precise(fastY.size());
      cpuMatmul(pool, tw.w, x.data(), fastY.data(), s.n, &f);
      cpuMatmul(pool, tw.w, x.data(), precise.data(), s.n);
      const std::vector<double> bound = errorBounds(tw.w, x, s.n);
      for (size_t e = 0; e < bound.size(); ++e) {
        const double d = std::fabs(double(fastY[e]) - precise[e]);
        worstAbs = std::max(worstAbs, d);
        if (bound[e] > 0) worst = std::max(worst, d / bound[e]);
        QVERIFY2(d <= bound[e], shapeTag(t, s) + ": output " + std::to_string(e) + " off by " +
                                    std::to_string(d) + ", bound " + std::to_string(bound[e]));
      }
    }
    std::printf("INFO   : %s fast vs precise: max |diff| %.3g, at most %.2f of the bound\n",
                std::string(qtypeName(t)).c_str(), worstAbs, worst);
  }
}

// Results do not depend on the thread count, nor on how many rows came in one call (a row alone
// equals the same row inside a batch: prefix reuse and generation rely on it); the fused SwiGLU
// equals the fast matmul followed by siluMul.
LL_TEST(fastIsDeterministicAcrossThreadsAndBatches) {
  const CpuFeatures& f = detectedCpuFeatures();
  if (!f.bf16Kernels() && !f.int8Kernels()) QSKIP("no AVX512_BF16 or VNNI: nothing fast to check");
  Rng rng(lltest::ops::freshSeed());
  ThreadPool one(1), three(3);
  for (QType t :
       {QType::F16, QType::Q8_0, QType::Q4_0, QType::Q5_1, QType::Q4_K, QType::Q6_K, QType::Q2_K}) {
    if (!fastMatmulCovers(t, f)) continue;
    const int n = 37;
    const int64_t rows = 300, cols = 256;
    TestWeight tw(rng.gen()(), t, rows, cols);
    const auto x = rng.normals(size_t(n) * cols);
    std::vector<float> y1(size_t(n) * rows), y3(y1.size()), row(static_cast<size_t>(rows));
    cpuMatmul(one, tw.w, x.data(), y1.data(), n, &f);
    cpuMatmul(three, tw.w, x.data(), y3.data(), n, &f);
    QVERIFY2(std::memcmp(y1.data(), y3.data(), y1.size() * 4) == 0,
             std::string(qtypeName(t)) + ": 1 vs 3 threads");
    for (int i : {0, 17, n - 1}) {
      cpuMatmul(three, tw.w, x.data() + size_t(i) * cols, row.data(), 1, &f);
      QVERIFY2(std::memcmp(row.data(), y1.data() + size_t(i) * rows, row.size() * 4) == 0,
               std::string(qtypeName(t)) + ": row " + std::to_string(i) + " alone vs in a batch");
    }
    auto gate = rng.normals(size_t(n) * rows);
    std::vector<float> fused = gate;
    cpuMatmulSwiglu(three, tw.w, x.data(), fused.data(), n, &f);
    for (int i = 0; i < n; ++i)
      siluMul(gate.data() + size_t(i) * rows, y1.data() + size_t(i) * rows, rows);
    QVERIFY2(std::memcmp(fused.data(), gate.data(), gate.size() * 4) == 0,
             std::string(qtypeName(t)) + ": fused SwiGLU vs matmul + siluMul");
  }
}

// A CPU reported without AVX512_BF16 / VNNI (or a type without a fast kernel) takes the precise
// path: the same bits as precise math, and the backend's name says so.
LL_TEST(missingFeatureFallsBackToPrecise) {
  Rng rng(lltest::ops::freshSeed());
  CpuFeatures noBf16 = detectedCpuFeatures(), noVnni = detectedCpuFeatures();
  noBf16.avx512bf16 = false;
  noVnni.avx512vnni = false;
  QVERIFY(!fastMatmulCovers(QType::F16, noBf16));
  QVERIFY(!fastMatmulCovers(QType::Q8_0, noVnni));
  for (QType t : kInt8Types) QVERIFY(!fastMatmulCovers(t, noVnni));
  QVERIFY(!fastMatmulCovers(QType::F32, detectedCpuFeatures()));
  ThreadPool pool(2);
  const struct {
    QType type;
    const CpuFeatures* features;
  } cases[] = {{QType::F16, &noBf16},    {QType::BF16, &noBf16},
               {QType::Q8_0, &noVnni},   {QType::Q4_0, &noVnni},
               {QType::Q6_K, &noVnni},   {QType::Q2_K, &noVnni},
               {QType::IQ4_XS, &noVnni}, {QType::F32, &detectedCpuFeatures()}};
  for (const auto& c : cases) {
    const int n = 11;
    const int64_t rows = 40, cols = 256;
    TestWeight tw(rng.gen()(), c.type, rows, cols);
    const auto x = rng.normals(size_t(n) * cols);
    std::vector<float> y(size_t(n) * rows), precise(y.size());
    QVERIFY(!fastMatmul(pool, *c.features, tw.w, x.data(), y.data(), n));
    cpuMatmul(pool, tw.w, x.data(), y.data(), n, c.features);
    cpuMatmul(pool, tw.w, x.data(), precise.data(), n);
    QVERIFY2(std::memcmp(y.data(), precise.data(), y.size() * 4) == 0,
             std::string(qtypeName(c.type)) + ": fallback differs from precise");
  }
  // "cpu (GEMM library)" precise, "cpu (GEMM library; fast math: ...)" fast.
  const std::string preciseName = makeCpuBackend(1, CpuMath::Precise)->name();
  QVERIFY2(preciseName.rfind("cpu", 0) == 0 && preciseName.find("fast math") == std::string::npos,
           preciseName);
  const std::string fastName = makeCpuBackend(1, CpuMath::Fast)->name();
  std::printf("INFO   : fast backend: %s\n", fastName.c_str());
  QVERIFY2(fastName.rfind("cpu (", 0) == 0 && fastName.find("; fast math:") != std::string::npos,
           fastName);
}

// LAYERLENS_CPU_MATH: unset/empty is precise, a bad value is an error naming the variable.
LL_TEST(cpuMathEnvironment) {
  QVERIFY(parseCpuMath("fast") == CpuMath::Fast);
  QVERIFY(parseCpuMath("precise") == CpuMath::Precise);
  unsetenv("LAYERLENS_CPU_MATH");
  QVERIFY(cpuMathFromEnv() == CpuMath::Precise);
  QVERIFY(makeCpuBackend(1)->name().find("fast math") == std::string::npos);
  setenv("LAYERLENS_CPU_MATH", "fast", 1);
  QVERIFY(cpuMathFromEnv() == CpuMath::Fast);
  QVERIFY(makeCpuBackend(1)->name().find("fast math") != std::string::npos);
  setenv("LAYERLENS_CPU_MATH", "fastest", 1);
  std::string err;
  try {
    makeCpuBackend(1);
  } catch (const std::invalid_argument& e) {
    err = e.what();
  }
  unsetenv("LAYERLENS_CPU_MATH");
  QVERIFY2(err.find("LAYERLENS_CPU_MATH") != std::string::npos &&
               err.find("'fastest'") != std::string::npos,
           "error: '" + err + "'");
}

LL_TEST_MAIN("tst_fast_matmul")
