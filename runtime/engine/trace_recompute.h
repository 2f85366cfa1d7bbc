// Post-RoPE query projection shared by the forward pass and by CPU traces, which store only their
// last rows of Q and no final norm: SiblingRecompute rebuilds them from a trace's stored layer
// inputs on a sibling backend of its own, so any thread can ask while the engine runs a pass.
#pragma once

#include <memory>
#include <mutex>

#include "kernels/backend.h"
#include "runtime/api/trace.h"
#include "runtime/engine/model_weights.h"
#include "runtime/model/model.h"

namespace ll::rt {

// y = norm(x) with the model's norm kind (RMSNorm or LayerNorm), n rows of nEmbd.
void normRows(kern::Backend& b, const ModelSpec& s, const ModelWeights& w, const kern::Weight* g,
              const kern::Weight* bias, const float* x, float* y, int n);

// q/k RMSNorm (olmoe: over each row's whole vector; qwen3/gemma3: over each head), x -> y.
void qkNormRows(kern::Backend& b, const ModelSpec& s, const float* weight, const float* x, float* y,
                int n, int nHeads);
// The RoPE of layer l (Gemma 3's local layers have their own base), nRot defaulted.
kern::RopeParams layerRope(const ModelSpec& s, int l);

// q[n, nHead*headDim] = rope(qNorm(Wq h + bq)) for layer l; h is the attention norm's output, pos
// the rows' positions (backend memory), tmp a [n, nHead*headDim] scratch used with q-norm only.
void projectQueries(kern::Backend& b, const ModelSpec& s, const ModelWeights& w, int l,
                    const float* h, const int32_t* pos, int n, float* q, float* tmp);

// The same from the layer's input x (the previous layer's residual, or the embeddings): the
// attention norm into h ([n, nEmbd] scratch), then projectQueries. Recomputing stored rows.
void queriesFromInput(kern::Backend& b, const ModelSpec& s, const ModelWeights& w, int l,
                      const float* x, float* h, const int32_t* pos, int n, float* q, float* tmp);

class SiblingRecompute final : public TraceRecompute {
 public:
  // The model, the weights and the backend that loaded them are kept alive by this object (traces
  // may outlive their session); null owners mean the caller keeps them alive.
  SiblingRecompute(std::shared_ptr<const Model> model, const ModelSpec& spec,
                   std::shared_ptr<kern::Backend> weightsBackend,
                   std::shared_ptr<ModelWeights> weights, std::unique_ptr<kern::Backend> sibling);
  void queries(const Trace& tr, int layer, int r0, int r1, float* out) const override;
  void finalNorm(const Trace& tr, int r0, int r1, float* out) const override;

 private:
  std::shared_ptr<const Model> m_model;  // may be null (the caller keeps the model alive)
  ModelSpec m_spec;
  std::shared_ptr<kern::Backend> m_weightsBackend;  // declared first: outlives the weights
  std::shared_ptr<ModelWeights> m_weights;
  mutable std::mutex m_mutex;
  std::unique_ptr<kern::Backend> m_backend;
};

}  // namespace ll::rt
