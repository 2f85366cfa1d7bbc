// Internal to runtime/model: one loader per source format, the GGUF spec reader (shared with
// `layerlens-cli info`) and the progress/cancel helper they all use.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "runtime/formats/gguf.h"
#include "runtime/model/model.h"

namespace ll::rt {

// Reports phases to the caller's callback; throws LoadCancelled when it returns false.
class ProgressReporter {
 public:
  explicit ProgressReporter(const LoadProgress& cb) : m_cb(cb) {}
  void operator()(float fraction, const std::string& phase) const {
    if (m_cb && !m_cb(fraction, phase)) throw LoadCancelled();
  }

 private:
  const LoadProgress& m_cb;
};

// Hyperparameters and layout of a GGUF model (tensor checks are separate: see spec_check.h).
ModelSpec specFromGguf(const GgufFile& file);

std::unique_ptr<Model> loadGgufModel(const std::filesystem::path& path,
                                     const ProgressReporter& progress);
std::unique_ptr<Model> loadHfModel(const std::filesystem::path& dir,
                                   const ProgressReporter& progress);
std::unique_ptr<Model> loadLlama2cModel(const std::filesystem::path& path,
                                        const std::filesystem::path& tokenizerPath,
                                        const ProgressReporter& progress);

// Counts tensors per ggml type name into spec.tensorTypeCounts.
void countTensorTypes(const WeightStore& weights, ModelSpec& spec);

}  // namespace ll::rt
