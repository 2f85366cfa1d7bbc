// Shared helpers of the analysis unit tests: the reference folders, a Session on a shared model
// (loaded once per test file, CPU backend, 2 threads), reference tensors and small loops.
#pragma once

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/quant.h"
#include "lltest.h"
#include "npy.h"
#include "runtime/api/session.h"
#include "runtime/model/model.h"

namespace anatest {

namespace fs = std::filesystem;

inline fs::path refDir(const std::string& model, const std::string& prompt) {
  return lltest::sharedDir() / "reference" / model / prompt;
}

inline std::shared_ptr<const ll::rt::Model> model(const std::string& file) {
  static std::map<std::string, std::shared_ptr<const ll::rt::Model>> cache;
  auto& m = cache[file];
  if (!m) m = ll::rt::loadModel(lltest::sharedDir() / "models" / file);
  return m;
}

// A fresh Session on a shared model with the prompt of a reference folder.
inline std::unique_ptr<ll::rt::Session> session(const std::string& file,
                                                const std::string& refModel,
                                                const std::string& prompt) {
  auto s = std::make_unique<ll::rt::Session>();
  ll::rt::BackendChoice b;
  b.threads = 2;
  s->attach(model(file), b);
  if (!prompt.empty()) {
    auto j = nlohmann::json::parse(lltest::readText(refDir(refModel, prompt) / "tokens.json"));
    s->setPromptIds(j["ids"].get<std::vector<int32_t>>());
  }
  return s;
}

inline std::vector<int32_t> refIds(const std::string& refModel, const std::string& prompt) {
  auto j = nlohmann::json::parse(lltest::readText(refDir(refModel, prompt) / "tokens.json"));
  return j["ids"].get<std::vector<int32_t>>();
}

inline lltest::NpyArray ref(const std::string& refModel, const std::string& prompt,
                            const std::string& file) {
  return lltest::readNpy(refDir(refModel, prompt) / file);
}

inline double relDiff(double a, double b) {
  return std::fabs(a - b) / std::max(1e-30, std::max(std::fabs(a), std::fabs(b)));
}

// Largest relative difference, |a-b| / max(|a|,|b|, floor).
inline double maxRel(const std::vector<float>& a, const std::vector<double>& b,
                     double floor = 1e-6) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d =
        std::fabs(a[i] - b[i]) / std::max({floor, std::fabs(double(a[i])), std::fabs(b[i])});
    if (!(d <= m)) m = std::isnan(d) ? INFINITY : d;
  }
  return m;
}

// Tensor of the model as f32 rows (any type the loader keeps).
inline std::vector<float> tensorF32(const ll::rt::Model& m, const std::string& name) {
  const ll::rt::TensorData& t = m.weights.get(name);
  const int64_t rows = t.rows(), cols = t.cols();
  std::vector<float> out(size_t(rows) * cols);
  const size_t rb = ll::kern::rowBytes(t.type, cols);
  for (int64_t r = 0; r < rows; ++r)
    ll::kern::dequantizeRow(t.type, t.data + size_t(r) * rb, out.data() + size_t(r) * cols, cols);
  return out;
}

}  // namespace anatest
