// The model's weights uploaded to one backend, bound by role from the architecture's tensor table
// (arch.h). Fused tensors are split here as the table says (attn_qkv into q/k/v row ranges, phi3's
// ffn_up into gate and up, 3-D expert tensors and 2-D expert biases into one Weight per expert) so
// the forward pass only ever sees plain matrices and vectors.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "runtime/model/arch.h"
#include "runtime/model/model.h"

namespace ll::rt {

struct ExpertWeights {
  const kern::Weight* gate = nullptr;
  const kern::Weight* up = nullptr;
  const kern::Weight* down = nullptr;
  const kern::Weight *gateB = nullptr, *upB = nullptr, *downB = nullptr;  // gpt-oss
};

struct LayerWeights {
  const kern::Weight *attnNorm = nullptr, *attnNormB = nullptr;
  const kern::Weight *wq = nullptr, *wk = nullptr, *wv = nullptr, *wo = nullptr;
  const kern::Weight *bq = nullptr, *bk = nullptr, *bv = nullptr, *bo = nullptr;
  const kern::Weight *qNorm = nullptr, *kNorm = nullptr;  // [qd]/[kvd] or per head [headDim]
  const kern::Weight* sinks = nullptr;                     // [nHead] attention-sink logits
  const kern::Weight *postAttnNorm = nullptr, *postFfnNorm = nullptr;  // Gemma
  const kern::Weight *ffnNorm = nullptr, *ffnNormB = nullptr;
  // dense FFN
  const kern::Weight *gate = nullptr, *up = nullptr, *down = nullptr;
  const kern::Weight *upB = nullptr, *downB = nullptr;
  // MoE
  const kern::Weight* router = nullptr;  // ffn_gate_inp [nExpert, nEmbd]
  const kern::Weight* routerB = nullptr;  // [nExpert] (gpt-oss)
  std::vector<ExpertWeights> experts;
  ExpertWeights shared;                      // qwen2moe shared expert
  const kern::Weight* sharedGate = nullptr;  // ffn_gate_inp_shexp [1, nEmbd]
  bool isMoe() const { return router != nullptr; }
};

class ModelWeights {
 public:
  // Uploads every weight the spec needs; throws std::runtime_error naming a missing or misshaped
  // tensor.
  ModelWeights(const Model& model, kern::Backend& backend);

  const kern::Weight* tokenEmbd = nullptr;
  const kern::Weight* posEmbd = nullptr;
  const kern::Weight* outputNorm = nullptr;
  const kern::Weight* outputNormB = nullptr;
  const kern::Weight* output = nullptr;
  std::vector<LayerWeights> layers;

  // Test hook: make every expert of every layer point at expert `e`'s weights.
  void aliasAllExpertsTo(int e);

  const float* vec(const kern::Weight* w) const;  // backend f32 data of a vector weight or nullptr

 private:
  const kern::Weight* load(const TensorData& t, int64_t rows, int64_t cols, size_t byteOffset,
                           const std::string& name);
  // Binds one table entry for one layer (-1: a global tensor).
  void bind(const TensorDesc& t, int layer);
  const kern::Weight** slot(Role role, int layer);

  const Model& m_model;
  kern::Backend& m_backend;
  std::vector<std::unique_ptr<kern::Weight>> m_owned;
};

}  // namespace ll::rt
