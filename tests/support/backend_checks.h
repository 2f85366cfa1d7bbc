// Op-level parity checks of a Backend against the reference backend (in the spirit of llama.cpp's
// test-backend-ops): random inputs, NMSE per op, NaN/Inf and out-of-bounds-write guards. Used by
// tests/unit/kernels (CPU) and tests/cuda (CUDA) so every backend faces the same checks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/backend.h"

namespace lltest::ops {

namespace kern = ::ll::kern;

// Normalised mean squared error bounds, sum((a - r)^2) / sum(r^2), per op family. Defaults are
// what an f32 backend that accumulates in f32 meets with a wide margin (observed values are
// 1e-14..1e-11); a backend with a documented reason (e.g. TF32 tensor cores) may pass looser ones.
struct Tolerances {
  double exact = 1e-12;  // copy, gather, add, addBias, scaleRows, scatterAdd, getRows, vectors
  double elementwise = 1e-10;  // gelu, swiglu, sigmoid (transcendentals, f32)
  double norm = 1e-10;         // rmsNorm, layerNorm
  double rope = 1e-9;          // angles from positions up to 131072
  double matmul = 1e-7;        // every weight type: both sides dequantize with kernels/quant.cpp
  double attention = 1e-8;     // output, entropy, colSum, lastRow, attentionMap
  double probSum = 1e-4;       // |sum_j p_ij - 1| per row of an attention map
};

// Collects the outcome of many comparisons so one failing op reports every failing case.
struct CheckLog {
  int checks = 0;
  std::vector<std::string> failures;
  uint64_t seed = 0;

  void expect(bool ok, const std::string& what);
  bool ok() const { return failures.empty(); }
  std::string summary(size_t maxLines = 20) const;
};

// A fresh seed per run (random_device), unless LAYERLENS_TEST_SEED is set (to replay a failure).
uint64_t freshSeed();

// Each check runs backend b and ref on the same random inputs and records into log.
void checkMemory(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol);
void checkElementwise(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol);
void checkNorms(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol);
void checkRows(kern::Backend& b, kern::Backend& ref, CheckLog& log,
               const Tolerances& tol);  // gather/scatter
void checkRope(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol);
void checkWeights(kern::Backend& b, kern::Backend& ref, CheckLog& log,
                  const Tolerances& tol);  // load, vectorData, getRows, bad descs
void checkMatmul(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol);
void checkAttention(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol);
// attentionMap against ref, and against b's own attention output and statistics.
void checkAttentionMap(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol);

// Same call, same inputs, fresh buffers (same alignment), several times: outputs must be
// bit-identical, i.e. independent of thread scheduling (the engine's "an intervention with no
// effect changes nothing" relies on it). Not part of checkAllOps: a backend may document why it
// cannot promise this (e.g. atomics).
void checkDeterminism(kern::Backend& b, CheckLog& log);

// Random weight bytes of type t (rows x cols) for tests: quant bytes random except the f16
// scale/min fields, which get magnitudes like real models' (random f16 bits could be NaN/Inf).
std::vector<uint8_t> randomWeightBytes(uint64_t seed, kern::QType t, int64_t rows, int64_t cols);

// All of the above.
void checkAllOps(kern::Backend& b, kern::Backend& ref, CheckLog& log, const Tolerances& tol = {});

}  // namespace lltest::ops
