// An architecture described as data, in one place: its GGUF metadata, its Hugging Face class and
// config fields, its block features and one tensor table (role -> GGUF name, HF name with its
// transform, shape, when it is required, how a fused tensor splits). Spec reading, spec checking,
// weight binding and HF name mapping all read this description; each family is one small file in
// runtime/model/arch/ plus a line in its families.h list.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/model/model_spec.h"

namespace ll::rt {

class GgufSpecReader;
class ConfigReader;

// What a tensor is to the engine. Layer roles bind into LayerWeights, global ones into
// ModelWeights.
enum class Role {
  // global
  TokenEmbd,
  PosEmbd,
  OutputNorm,
  OutputNormB,
  Output,
  RopeFactorsLong,
  RopeFactorsShort,
  // attention
  AttnNorm,
  AttnNormB,
  Wq,
  Wk,
  Wv,
  Wqkv,
  Bq,
  Bk,
  Bv,
  Bqkv,
  Wo,
  Bo,
  QNorm,
  KNorm,
  Sinks,
  PostAttnNorm,
  // dense FFN
  FfnNorm,
  FfnNormB,
  Gate,
  Up,
  GateUp,
  Down,
  UpB,
  DownB,
  PostFfnNorm,
  // MoE
  Router,
  RouterB,
  GateExps,
  UpExps,
  DownExps,
  GateExpsB,
  UpExpsB,
  DownExpsB,
  ShexpGateInp,
  GateShexp,
  UpShexp,
  DownShexp,
};

// A tensor dimension in terms of the spec (GGUF ne order: ne[0] is the row length).
enum class Dim {
  One,
  Embd,
  Vocab,
  Ctx,
  Q,
  Kv,
  Qkv,
  Ff,
  Ff2,
  FfExp,
  FfShexp,
  Expert,
  Head,
  HeadDim,
  RopePairs
};

// When a tensor must be present (Optional: bound when present, never required; SharedExpert: a
// layer has all of the shared expert's tensors or none).
enum class When { Always, Optional, Dense, Moe, SharedExpert, Untied, QkvBias, LearnedPos };

// How a fused tensor is cut into what the engine binds.
enum class Split {
  None,
  QkvRows,     // [Q | K | V] rows (gpt2, phi3 attn_qkv)
  GateUpRows,  // [gate | up] rows (phi3 ffn_up)
  PerExpert,   // 3-D [.., .., E] or 2-D bias [.., E]: one slice per expert
};

enum class HfTransform {
  None,       // torch [out, in] row-major is GGUF ne [in, out] byte for byte
  PermuteQ,   // llama q_proj: rotate-half rows -> interleaved pairs, per query head
  PermuteK,   // llama k_proj: same per kv head
  Transpose,  // gpt2 Conv1D [in, out] -> GGUF rows of in
  Flatten,    // [1, n] -> [n] (qwen2moe shared_expert_gate)
  AddOne,     // Gemma RMSNorm weights: HF scales by (1 + w), GGUF stores w + 1 (F32 sum)
};

struct TensorDesc {
  Role role;
  const char* gguf;  // name pattern: "{L}" = layer index ("blk.{L}.attn_q.weight")
  Dim ne[3] = {Dim::One, Dim::One, Dim::One};
  int rank = 1;
  When when = When::Always;
  Split split = Split::None;
  const char* hf = nullptr;  // HF name pattern ("{L}" layer, "{E}" expert), nullptr: none
  HfTransform hfTransform = HfTransform::None;
};

// Which layers use the sliding window (when the file gives one).
enum class WindowLayers { None, All, Even, GemmaPattern /* (il + 1) % 6 != 0 */ };

// Everything that distinguishes one family. Defaults describe a plain llama block.
struct ArchDesc {
  std::string_view name;  // general.architecture
  std::vector<std::string_view> hfClasses;
  std::vector<TensorDesc> tensors;

  NormKind norm = NormKind::RmsNorm;
  Activation act = Activation::SwiGlu;
  QkNorm qkNorm = QkNorm::None;
  bool learnedPos = false;
  bool hasRope = true;
  bool ropeNeox = false;
  bool qkvBias = false;    // q/k/v biases required (else optional and picked up when present)
  bool postNorms = false;  // post_attention_norm / post_ffw_norm on the branch outputs (Gemma)
  bool embdScale = false;  // x0 = embedding * sqrt(n_embd) (Gemma)
  bool attnSinks = false;  // per-head sink logits (gpt-oss)
  WindowLayers windowLayers = WindowLayers::None;
  float localRopeBase = 0;  // > 0: window layers use this base, unscaled (Gemma 3)
  // MoE
  bool allowMoe = false;
  bool moeOnly = false;  // every layer is MoE when expert_count > 0 (no dense nFf)
  ExpertNorm expertNorm = ExpertNorm::Never;
  bool sharedExpert = false;
  std::string_view hfPrefix = "model.";  // stripped from HF tensor names when present
  bool hfTiedByDefault = false;          // HF config without tie_word_embeddings ties (gpt2)
  bool hfLlamaConfig = true;  // config.json uses hidden_size, num_hidden_layers, ... (not gpt2)
  // rope_scaling types the family's hfExtra reads itself (phi3: longrope); others are rejected
  // unless the common reader knows them (linear, llama3).
  std::vector<std::string_view> hfRopeTypes;

  // Family-specific metadata beyond the common keys (may be empty). Runs before deriveLayout.
  std::function<void(const GgufSpecReader&, ModelSpec&)> ggufExtra;
  // Reads a config.json of one of hfClasses into the spec's shape fields (common fields are read
  // by hf_config.cpp; this adds the family's own, spec.window included). May be empty. Runs
  // before deriveLayout, and may fill windowed[] and the local RoPE base itself (see there).
  std::function<void(const ConfigReader&, ModelSpec&)> hfExtra;
};

// The registry (the list in runtime/model/arch/families.h).
const std::vector<const ArchDesc*>& architectures();
const ArchDesc* findArch(std::string_view name);
const ArchDesc* findArchByHfClass(std::string_view cls);
const ArchDesc& archOf(const ModelSpec& spec);  // throws std::logic_error for an unknown name
// "llama, qwen2, ..." in registry order
std::string supportedArchitecturesText();
// Copies the description's block features into spec (arch, norm, act, qkNorm, rope kind, ...).
void applyArchLayout(const ArchDesc& a, ModelSpec& spec);
// What follows from the read shape, the same for every loader (called last): the embedding scale,
// which layers use the sliding window (the family's rule, unless the reader already filled
// windowed[] for every layer, e.g. from HF layer_types) and the RoPE of windowed layers: unscaled,
// with the family's local base, or with spec.ropeLocal.base where the reader set spec.localRope.
void deriveLayout(const ArchDesc& a, ModelSpec& spec);

// The tensor table's views: its entry for a role, a name for a layer, a shape for a spec.
const TensorDesc* findRole(const ArchDesc& a, Role role);
std::string tensorName(const TensorDesc& t, int layer);
std::vector<int64_t> tensorShape(const TensorDesc& t, const ModelSpec& s);
bool layerScoped(const TensorDesc& t);
// Whether a tensor is required for this spec (Optional entries never are).
bool tensorRequired(const TensorDesc& t, const ModelSpec& s);

}  // namespace ll::rt
