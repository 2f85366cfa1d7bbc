// Op checks for weights: loading (valid and malformed descriptions), vectorData, getRows and
// matmul over every weight type, with random quantized blocks whose scale fields are sane.
#include <cmath>
#include <stdexcept>

#include "backend_checks.h"
#include "backend_checks_util.h"

namespace lltest::ops {
namespace {

using kern::QType;

const QType kAllTypes[] = {QType::F32,  QType::F16,    QType::BF16,   QType::Q4_0,
                           QType::Q4_1, QType::Q5_0,   QType::Q5_1,   QType::Q8_0,
                           QType::Q2_K, QType::Q3_K,   QType::Q4_K,   QType::Q5_K,
                           QType::Q6_K, QType::IQ4_NL, QType::IQ4_XS, QType::MXFP4};

struct HalfField {
  int offset;
  float lo, hi;  // range of the value written there
};

// Byte offsets of the f16 fields (scales d, minimums m/dmin) inside one block, as in ggml's
// block structs. Random bytes elsewhere are valid quants; random bytes here could be NaN/Inf or
// 6e4, so they are overwritten with magnitudes like real models'.
std::vector<HalfField> halfFields(QType t) {
  switch (t) {
    case QType::Q4_0:
      return {{0, -0.02f, 0.02f}};
    case QType::Q4_1:
      return {{0, 0.001f, 0.02f}, {2, -0.1f, 0.0f}};
    case QType::Q5_0:
      return {{0, -0.02f, 0.02f}};
    case QType::Q5_1:
      return {{0, 0.001f, 0.02f}, {2, -0.1f, 0.0f}};
    case QType::Q8_0:
      return {{0, -0.004f, 0.004f}};
    case QType::Q2_K:
      return {{80, 0.001f, 0.01f}, {82, 0.0005f, 0.005f}};
    case QType::Q3_K:
      return {{108, 0.001f, 0.01f}};
    case QType::Q4_K:
      return {{0, 0.0005f, 0.005f}, {2, 0.0005f, 0.005f}};
    case QType::Q5_K:
      return {{0, 0.0005f, 0.005f}, {2, 0.0005f, 0.005f}};
    case QType::Q6_K:
      return {{208, 0.0005f, 0.005f}};
    case QType::IQ4_NL:  // codebook levels -127..113
      return {{0, -0.0015f, 0.0015f}};
    case QType::IQ4_XS:  // codebook levels times 6-bit sub-block scales - 32
      return {{0, 0.00007f, 0.00012f}};
    default:
      return {};
  }
}

std::vector<uint8_t> randomWeightBytes(Rng& rng, QType t, int64_t rows, int64_t cols) {
  const size_t nbytes = kern::rowBytes(t, cols) * size_t(rows);
  const size_t n = size_t(rows * cols);
  std::vector<uint8_t> out(nbytes);
  if (t == QType::F32) {
    auto v = rng.normals(n, 0.5f);
    std::memcpy(out.data(), v.data(), nbytes);
  } else if (t == QType::F16 || t == QType::BF16) {
    auto v = rng.normals(n, 0.5f);
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      if (t == QType::F16) {
        h = kern::fp32ToFp16(v[i]);
      } else {
        uint32_t bits;
        std::memcpy(&bits, &v[i], 4);
        h = uint16_t(bits >> 16);
      }
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  } else {
    out = rng.bytes(nbytes);
    const auto info = kern::qtypeInfo(t);
    for (size_t blk = 0; blk < nbytes / size_t(info.typeSize); ++blk)
      for (const HalfField& f : halfFields(t)) {
        const uint16_t h = kern::fp32ToFp16(rng.uniform(f.lo, f.hi));
        std::memcpy(out.data() + blk * info.typeSize + f.offset, &h, 2);
      }
    // MXFP4's scale is an E8M0 exponent byte (first in the block): 2^(e - 128) for e in
    // 119..123, so values (codes up to 12) stay below 0.4 like the other types'.
    if (t == QType::MXFP4)
      for (size_t blk = 0; blk < nbytes / size_t(info.typeSize); ++blk)
        out[blk * info.typeSize] = uint8_t(rng.intIn(119, 123));
  }
  return out;
}

}  // namespace

std::vector<uint8_t> randomWeightBytes(uint64_t seed, QType t, int64_t rows, int64_t cols) {
  Rng rng(seed);
  return randomWeightBytes(rng, t, rows, cols);
}

namespace {

kern::WeightDesc desc(QType t, int64_t rows, int64_t cols, const std::vector<uint8_t>& bytes) {
  kern::WeightDesc d;
  d.name = std::string("test.") + std::string(kern::qtypeName(t)) + ".weight";
  d.type = t;
  d.rows = rows;
  d.cols = cols;
  d.data = bytes.data();
  d.nbytes = bytes.size();
  return d;
}

// Shapes (rows, cols) for a type: odd row counts, several blocks per row, a non-multiple-of-8
// column count where the block size allows.
std::vector<std::pair<int64_t, int64_t>> shapes(QType t) {
  const int64_t bs = kern::qtypeInfo(t).blockSize;
  if (bs == 1) return {{7, 67}, {300, 129}, {64, 2048}};
  if (bs == 32) return {{7, 32}, {300, 96}, {33, 544}};
  return {{7, 256}, {300, 512}, {130, 768}};
}

template <class F>
bool throws(F&& f) {
  try {
    f();
  } catch (const std::exception&) {
    return true;
  }
  return false;
}

}  // namespace

void checkWeights(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol) {
  Rng rng(log.seed ^ 0x88);
  for (QType t : kAllTypes) {
    const std::string tn(kern::qtypeName(t));
    const int64_t bs = kern::qtypeInfo(t).blockSize;
    // Vectors (norm weights, biases) converted once at load.
    const int64_t vcols = bs == 1 ? 67 : 2 * bs;
    auto vbytes = randomWeightBytes(rng, t, 1, vcols);
    auto wb = b.loadWeight(desc(t, 1, vcols, vbytes)),
         wr = ref.loadWeight(desc(t, 1, vcols, vbytes));
    log.expect(wb->rows == 1 && wb->cols == vcols && wb->type == t, "loadWeight " + tn + " shape");
    std::vector<float> vb(static_cast<size_t>(vcols)), vr(static_cast<size_t>(vcols));
    b.sync();
    b.download(vb.data(), b.vectorData(*wb), vb.size() * 4);
    ref.download(vr.data(), ref.vectorData(*wr), vr.size() * 4);
    compare(log, "vectorData " + tn + " [" + b.name() + " vs " + ref.name() + "]", vb, vr,
            tol.exact);

    // getRows: single rows dequantized, ids may repeat.
    const int64_t rows = 50, cols = bs == 1 ? 33 : 3 * bs;
    auto bytes = randomWeightBytes(rng, t, rows, cols);
    auto mb = b.loadWeight(desc(t, rows, cols, bytes)),
         mr = ref.loadWeight(desc(t, rows, cols, bytes));
    for (int n : {1, 20}) {
      std::vector<int32_t> ids(n);
      for (auto& id : ids) id = rng.intIn(0, int(rows) - 1);
      ids.back() = int32_t(rows - 1);
      parity(b, ref, log, "getRows " + tn + " " + dims({{"rows", rows}, {"cols", cols}, {"n", n}}),
             {}, size_t(n) * cols, nullptr, tol.exact, [&](kern::Backend& be, auto&, float* out) {
               be.getRows(&be == &b ? *mb : *mr, ids.data(), n, out);
             });
    }

    // Malformed descriptions from a hostile file are rejected, never read past.
    for (kern::Backend* be : {&b, &ref}) {
      const std::string who = " [" + be->name() + "]";
      kern::WeightDesc d = desc(t, rows, cols, bytes);
      d.nbytes -= 1;
      log.expect(throws([&] { be->loadWeight(d); }),
                 "loadWeight " + tn + " with short data must throw" + who);
      if (bs > 1) {
        d = desc(t, rows, cols - 1, bytes);
        log.expect(throws([&] { be->loadWeight(d); }),
                   "loadWeight " + tn + " with cols not a multiple of the block must throw" + who);
      }
      d = desc(t, 0, cols, bytes);
      log.expect(throws([&] { be->loadWeight(d); }),
                 "loadWeight " + tn + " with 0 rows must throw" + who);
      d = desc(t, int64_t(1) << 40, cols, bytes);
      log.expect(throws([&] { be->loadWeight(d); }),
                 "loadWeight " + tn + " with huge rows must throw" + who);
    }
  }
  kern::WeightDesc bad = desc(QType::F32, 1, 4, std::vector<uint8_t>(16));
  bad.data = nullptr;
  bad.type = static_cast<QType>(99);
  log.expect(throws([&] { b.loadWeight(bad); }),
             "loadWeight with an unknown type must throw [" + b.name() + "]");
  // A ggml type no backend implements (16, IQ2_XXS), with plausible bytes: the error names the
  // weight and the type id.
  std::vector<uint8_t> iq2(66 * 4);
  kern::WeightDesc other = desc(QType::F32, 4, 256, iq2);
  other.name = "blk.3.ffn_up.weight";
  other.type = static_cast<QType>(16);
  std::string msg;
  try {
    b.loadWeight(other);
  } catch (const std::exception& e) {
    msg = e.what();
  }
  log.expect(
      msg.find("blk.3.ffn_up.weight") != std::string::npos && msg.find("16") != std::string::npos,
      "loadWeight of an unsupported ggml type must name the weight and the type, got '" + msg +
          "' [" + b.name() + "]");
}

void checkMatmul(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol) {
  Rng rng(log.seed ^ 0x99);
  for (QType t : kAllTypes) {
    for (auto [rows, cols] : shapes(t)) {
      auto bytes = randomWeightBytes(rng, t, rows, cols);
      auto wb = b.loadWeight(desc(t, rows, cols, bytes)),
           wr = ref.loadWeight(desc(t, rows, cols, bytes));
      for (int n : {1, 5, 17, 64}) {
        auto x = rng.normals(size_t(n) * cols);
        parity(b, ref, log,
               "matmul " + std::string(kern::qtypeName(t)) + " " +
                   dims({{"rows", rows}, {"cols", cols}, {"n", n}}),
               {x}, size_t(n) * rows, nullptr, tol.matmul,
               [&](kern::Backend& be, auto& in, float* out) {
                 be.matmul(&be == &b ? *wb : *wr, in[0]->f32(), out, n);
               });
        // SwiGLU's up projection fused with the gating (the reference runs it unfused).
        const auto gate = rng.normals(size_t(n) * rows, 2.0f);
        parity(b, ref, log,
               "matmulSwiglu " + std::string(kern::qtypeName(t)) + " " +
                   dims({{"rows", rows}, {"cols", cols}, {"n", n}}),
               {x}, size_t(n) * rows, &gate, tol.matmul,
               [&](kern::Backend& be, auto& in, float* out) {
                 be.matmulSwiglu(&be == &b ? *wb : *wr, in[0]->f32(), out, n);
               });
      }
    }
  }
}

}  // namespace lltest::ops

namespace lltest::ops {

void checkDeterminism(kern::Backend& b, CheckLog& log) {
  Rng rng(log.seed ^ 0xaa);
  auto same = [&](const std::string& what, const std::vector<std::vector<float>>& inputs,
                  size_t outCount, const std::vector<float>* init, const OpFn& op) {
    const auto first = runOp(b, log, what, inputs, outCount, init, op);
    for (int rep = 0; rep < 4; ++rep) {
      const auto again = runOp(b, log, what, inputs, outCount, init, op);
      if (std::memcmp(first.data(), again.data(), first.size() * 4) != 0) {
        log.expect(false, what + ": results differ between identical calls [" + b.name() + "]");
        return;
      }
    }
    log.expect(true, what);
  };
  for (QType t : {QType::F32, QType::Q4_K, QType::Q6_K}) {
    const int64_t rows = 300, cols = 512;
    auto bytes = randomWeightBytes(rng, t, rows, cols);
    auto w = b.loadWeight(desc(t, rows, cols, bytes));
    for (int n : {1, 33}) {
      auto x = rng.normals(size_t(n) * cols);
      same("matmul " + std::string(kern::qtypeName(t)) + " n=" + std::to_string(n), {x},
           size_t(n) * rows, nullptr,
           [&](kern::Backend& be, auto& in, float* out) { be.matmul(*w, in[0]->f32(), out, n); });
      const auto gate = rng.normals(size_t(n) * rows);
      same("matmulSwiglu " + std::string(kern::qtypeName(t)) + " n=" + std::to_string(n), {x},
           size_t(n) * rows, &gate, [&](kern::Backend& be, auto& in, float* out) {
             be.matmulSwiglu(*w, in[0]->f32(), out, n);
           });
    }
  }
  const int n = 40, dim = 2048;
  auto x = rng.floats(size_t(n) * dim, -4, 4), wn = rng.floats(size_t(dim), 0.5f, 1.5f);
  same("rmsNorm", {x, wn}, x.size(), nullptr, [&](kern::Backend& be, auto& in, float* out) {
    be.rmsNorm(in[0]->f32(), in[1]->f32(), out, n, dim, 1e-5f);
  });
  same("gelu", {}, x.size(), &x,
       [&](kern::Backend& be, auto&, float* out) { be.gelu(out, x.size()); });
  same("swiglu", {x, x}, x.size(), nullptr, [&](kern::Backend& be, auto& in, float* out) {
    be.swiglu(in[0]->f32(), in[1]->f32(), out, x.size());
  });

  // Attention with every statistic and a knockout mask; colSum starts from zeros each time.
  const int nQ = 70, nKv = 100, nHead = 8, nHeadKv = 2, hd = 64;
  auto q = rng.normals(size_t(nQ) * nHead * hd, 1.5f),
       k = rng.normals(size_t(nKv) * nHeadKv * hd, 1.5f),
       v = rng.normals(size_t(nKv) * nHeadKv * hd);
  std::vector<float> masks(size_t(nKv) / 2);  // 2 x nKv bytes
  auto* mb = reinterpret_cast<uint8_t*>(masks.data());
  for (int j = 0; j < 2 * nKv; ++j) mb[j] = rng.uniform(0, 1) < 0.3f;
  const size_t outN = size_t(nQ) * nHead * hd, entN = size_t(nHead) * nQ,
               colN = size_t(nHead) * nKv;
  std::vector<float> zeros(outN + entN + 2 * colN, 0.0f);
  auto args = [&](auto& in, float* out) {
    kern::AttnArgs a;
    a.nQ = nQ;
    a.nKv = nKv;
    a.nHead = nHead;
    a.nHeadKv = nHeadKv;
    a.headDim = hd;
    a.scale = 0.125f;
    a.q = in[0]->f32();
    a.k = in[1]->f32();
    a.v = in[2]->f32();
    a.blockQ = in[3]->u8();
    a.blockK = in[3]->u8() + nKv;
    a.out = out;
    a.entropy = out + outN;
    a.colSum = out + outN + entN;
    a.lastRow = out + outN + entN + colN;
    return a;
  };
  same("attention with stats and knockout", {q, k, v, masks}, zeros.size(), &zeros,
       [&](kern::Backend& be, auto& in, float* out) { be.attention(args(in, out)); });
  same(
      "attentionMap", {q, k, v, masks}, size_t(nQ) * nKv, nullptr,
      [&](kern::Backend& be, auto& in, float* out) { be.attentionMap(args(in, nullptr), 3, out); });
  // The same with a sliding window, a soft-cap and sinks (the window crosses query blocks).
  const auto sinks = rng.floats(size_t(nHead), -2.0f, 4.0f);
  auto featureArgs = [&](auto& in, float* out) {
    kern::AttnArgs a = args(in, out);
    a.window = 21;
    a.softcap = 3.0f;
    a.sinks = in[4]->f32();
    return a;
  };
  same("attention with stats, knockout, window, softcap and sinks", {q, k, v, masks, sinks},
       zeros.size(), &zeros,
       [&](kern::Backend& be, auto& in, float* out) { be.attention(featureArgs(in, out)); });
  same("attentionMap with window, softcap and sinks", {q, k, v, masks, sinks}, size_t(nQ) * nKv,
       nullptr, [&](kern::Backend& be, auto& in, float* out) {
         be.attentionMap(featureArgs(in, nullptr), 3, out);
       });
}

}  // namespace lltest::ops
