// The model's weights uploaded to one backend, bound by role from the architecture's tensor table
// (arch.h). Fused tensors are split here as the table says (attn_qkv into q/k/v row ranges, phi3's
// ffn_up into gate and up, 3-D expert tensors and 2-D expert biases into one Weight per expert) so
// the forward pass only ever sees plain matrices and vectors. A pipeline stage (runtime/dist) binds
// only its share of them (WeightScope).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "runtime/engine/weight_scope.h"
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
  const kern::Weight* sinks = nullptr;                    // [nHead] attention-sink logits
  const kern::Weight *postAttnNorm = nullptr, *postFfnNorm = nullptr;  // Gemma
  const kern::Weight *ffnNorm = nullptr, *ffnNormB = nullptr;
  // dense FFN
  const kern::Weight *gate = nullptr, *up = nullptr, *down = nullptr;
  const kern::Weight *upB = nullptr, *downB = nullptr;
  // MoE
  const kern::Weight* router = nullptr;   // ffn_gate_inp [nExpert, nEmbd]
  const kern::Weight* routerB = nullptr;  // [nExpert] (gpt-oss)
  std::vector<ExpertWeights> experts;
  ExpertWeights shared;                      // qwen2moe shared expert
  const kern::Weight* sharedGate = nullptr;  // ffn_gate_inp_shexp [1, nEmbd]
  // From the model file, bound or not: a stage that does not hold the layer still validates
  // router edits aimed at it.
  bool moe = false;
  bool isMoe() const { return moe; }
};

class ModelWeights {
 public:
  // Uploads every weight the spec needs within `scope`; throws std::runtime_error naming a missing
  // or misshaped tensor (every tensor's presence is checked, bound or not), std::invalid_argument
  // for a scope outside the model's layers.
  ModelWeights(const Model& model, kern::Backend& backend, WeightScope scope = {});

  // Null where the scope leaves them unbound (posEmbd also where the model has none).
  const kern::Weight* tokenEmbd = nullptr;
  const kern::Weight* posEmbd = nullptr;
  const kern::Weight* outputNorm = nullptr;
  const kern::Weight* outputNormB = nullptr;
  const kern::Weight* output = nullptr;

  // Layer l's weights. Throws std::out_of_range past the model's layers and std::logic_error
  // (naming the layers bound here) for a layer of which nothing but its sinks is bound. Outside
  // [firstLayer(), lastLayer()) only the scope's extra roles are set.
  const LayerWeights& layer(int l) const;
  int nLayer() const { return static_cast<int>(m_layers.size()); }
  // Layer l's attention sinks (nullptr: none), bound for every layer whatever the scope.
  const kern::Weight* sinks(int l) const { return m_layers.at(size_t(l)).sinks; }
  // Whether the file makes layer l a MoE layer, bound here or not (every stage validates router
  // edits on every layer alike).
  bool isMoe(int l) const { return m_layers.at(size_t(l)).moe; }
  // The layers bound whole: [firstLayer(), lastLayer()).
  int firstLayer() const { return m_first; }
  int lastLayer() const { return m_last; }
  WeightScope::Extra extra() const { return m_extra; }
  // Rows of the position table (learned positions), bound or not; 0 without one.
  int64_t positionRows() const { return m_positionRows; }
  // What this instance bound: the number of weights and their bytes in the file's encoding (a
  // tensor split into parts counts each part).
  size_t boundCount() const { return m_owned.size(); }
  size_t boundBytes() const { return m_boundBytes; }
  // The LM head (with its output norm) and the token embeddings; throw std::logic_error where
  // they are not bound.
  const kern::Weight& head() const;
  const kern::Weight& embeddings() const;

  // Test hook: make every expert of every layer point at expert `e`'s weights.
  void aliasAllExpertsTo(int e);

  const float* vec(const kern::Weight* w) const;  // backend f32 data of a vector weight or nullptr

 private:
  // Whether the scope binds role (of layer l; -1: a global tensor).
  bool wanted(Role role, int l) const;
  void checkComplete() const;
  const kern::Weight* load(const TensorData& t, int64_t rows, int64_t cols, size_t byteOffset,
                           const std::string& name);
  // Checks one table entry for one layer (-1: a global tensor) and binds what the scope wants of
  // it (force: all of it).
  void bind(const TensorDesc& t, int layer, bool force = false);
  const kern::Weight** slot(Role role, int layer);

  const Model& m_model;
  kern::Backend& m_backend;
  std::vector<LayerWeights> m_layers;
  int m_first = 0, m_last = 0;
  WeightScope::Extra m_extra = WeightScope::Extra::None;
  int64_t m_positionRows = 0;
  size_t m_boundBytes = 0;
  std::vector<std::unique_ptr<kern::Weight>> m_owned;
};

}  // namespace ll::rt
