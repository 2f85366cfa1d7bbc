// Shared by the families' analysis tests: the six newer fixtures, opened on the park prompt (27
// tokens, longer than their window of 8), and small comparison helpers.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ana_common.h"
#include "runtime/analysis/attention_stats.h"
#include "runtime/analysis/depth_usage.h"
#include "runtime/analysis/knockout.h"
#include "runtime/analysis/lens.h"
#include "runtime/analysis/method_limits.h"
#include "runtime/analysis/routing_stats.h"
#include "runtime/analysis/run_helpers.h"
#include "runtime/analysis/selection_runs.h"
#include "runtime/analysis/stats.h"
#include "runtime/analysis/steering.h"
#include "runtime/analysis/token_selection.h"
#include "runtime/engine/engine.h"

using namespace ll::rt;
using namespace ll::rt::ana;

namespace famtest {

using namespace ll::rt;
using namespace ll::rt::ana;

struct Family {
  const char* file;
  const char* ref;
};
inline const Family kFamilies[] = {
    {"qwen3-tiny.gguf", "qwen3-tiny"},   {"qwen3moe-tiny.gguf", "qwen3moe-tiny"},
    {"gemma2-tiny.gguf", "gemma2-tiny"}, {"gemma3-tiny.gguf", "gemma3-tiny"},
    {"phi3-tiny.gguf", "phi3-tiny"},     {"gpt-oss-tiny.gguf", "gpt-oss-tiny"}};

inline std::unique_ptr<Session> open(const Family& f) {
  return anatest::session(f.file, f.ref, "park");
}

template <class A, class B>
inline double maxAbsDiff(const A& a, const B& b, size_t begin = 0, size_t end = SIZE_MAX) {
  if (a.size() != b.size()) return INFINITY;
  end = std::min(end, size_t(a.size()));
  double m = 0;
  for (size_t i = begin; i < end; ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i]));
    if (!(d <= m)) m = std::isnan(d) ? INFINITY : d;
  }
  return m;
}

// Rows [r0, r1) of a [T, d] tensor.
template <class A, class B>
inline double rowsDiff(const A& a, const B& b, int d, int r0, int r1) {
  return maxAbsDiff(a, b, size_t(r0) * d, size_t(r1) * d);
}

inline bool strictlyAscending(const std::vector<int>& v, int T) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] < 0 || v[i] >= T || (i && v[i] <= v[i - 1])) return false;
  return true;
}

inline std::string where(const Family& f, int layer = -1) {
  return std::string(f.ref) + (layer >= 0 ? " layer " + std::to_string(layer) : "");
}

// Two CPU passes differ by float reordering only; interventions move values by O(0.1) or more.
inline constexpr double kSame = 2e-4;

inline int32_t argmax(const float* row, int n) {
  return int32_t(std::max_element(row, row + n) - row);
}

// A windowed and a full-attention layer of the model (-1 when it has none).
inline std::pair<int, int> windowedAndFull(const ModelSpec& s) {
  int w = -1, f = -1;
  for (int l = 0; l < s.nLayer; ++l)
    if (s.layerWindow(l) > 0) {
      if (w < 0) w = l;
    } else if (f < 0) {
      f = l;
    }
  return {w, f};
}

}  // namespace famtest
