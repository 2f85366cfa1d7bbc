// The tensor list the engine expects, derived from the spec and the architecture table.
#include "runtime/model/spec_check.h"

#include "runtime/model/arch_table.h"

namespace ll::rt {

namespace {
std::string shapeText(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}
}  // namespace

std::vector<ExpectedTensor> expectedTensors(const ModelSpec& s) {
  const ArchInfo& a = archInfo(s.archKind);
  const int64_t d = s.nEmbd, q = int64_t(s.nHead) * s.headDim, kv = int64_t(s.nHeadKv) * s.headDim;
  const bool ln = s.norm == NormKind::LayerNorm;
  std::vector<ExpectedTensor> out;
  auto add = [&](std::string name, std::vector<int64_t> ne) {
    out.push_back({std::move(name), std::move(ne)});
  };
  auto norm = [&](const std::string& base, int64_t n) {
    add(base + ".weight", {n});
    if (ln) add(base + ".bias", {n});
  };
  add("token_embd.weight", {d, s.nVocab});
  if (s.learnedPos) add("position_embd.weight", {d, s.nCtx});
  norm("output_norm", d);
  if (!s.tiedOutput) add("output.weight", {d, s.nVocab});
  for (int l = 0; l < s.nLayer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    norm(b + "attn_norm", d);
    if (a.fusedQkv) {
      add(b + "attn_qkv.weight", {d, q + 2 * kv});
      add(b + "attn_qkv.bias", {q + 2 * kv});
    } else {
      add(b + "attn_q.weight", {d, q});
      add(b + "attn_k.weight", {d, kv});
      add(b + "attn_v.weight", {d, kv});
      if (s.qkvBias) {
        add(b + "attn_q.bias", {q});
        add(b + "attn_k.bias", {kv});
        add(b + "attn_v.bias", {kv});
      }
    }
    if (s.qkNorm) {
      add(b + "attn_q_norm.weight", {q});
      add(b + "attn_k_norm.weight", {kv});
    }
    add(b + "attn_output.weight", {q, d});
    if (a.linearBiases) add(b + "attn_output.bias", {d});
    norm(b + "ffn_norm", d);
    if (s.nExpert > 0) {
      add(b + "ffn_gate_inp.weight", {d, s.nExpert});
      add(b + "ffn_gate_exps.weight", {d, s.nFfExpert, s.nExpert});
      add(b + "ffn_up_exps.weight", {d, s.nFfExpert, s.nExpert});
      add(b + "ffn_down_exps.weight", {s.nFfExpert, d, s.nExpert});
      if (s.nFfShexp > 0) {
        add(b + "ffn_gate_inp_shexp.weight", {d});
        add(b + "ffn_gate_shexp.weight", {d, s.nFfShexp});
        add(b + "ffn_up_shexp.weight", {d, s.nFfShexp});
        add(b + "ffn_down_shexp.weight", {s.nFfShexp, d});
      }
    } else {
      if (s.act == Activation::SwiGlu) add(b + "ffn_gate.weight", {d, s.nFf});
      add(b + "ffn_up.weight", {d, s.nFf});
      add(b + "ffn_down.weight", {s.nFf, d});
      if (a.linearBiases) {
        add(b + "ffn_up.bias", {s.nFf});
        add(b + "ffn_down.bias", {d});
      }
    }
  }
  return out;
}

void checkTensors(const ModelSpec& spec, const WeightStore& weights,
                  const std::filesystem::path& file) {
  std::vector<std::string> problems;
  for (const auto& e : expectedTensors(spec)) {
    const TensorData* t = weights.find(e.name);
    if (!t)
      problems.push_back("missing " + e.name + " " + shapeText(e.ne));
    else if (t->ne != e.ne)
      problems.push_back(e.name + " has shape " + shapeText(t->ne) + ", expected " +
                         shapeText(e.ne));
  }
  if (problems.empty()) return;
  std::string msg = spec.arch + " model is incomplete (" + std::to_string(problems.size()) +
                    " problem" + (problems.size() > 1 ? "s" : "") + "): ";
  for (size_t i = 0; i < problems.size() && i < 8; ++i) msg += (i ? "; " : "") + problems[i];
  if (problems.size() > 8) msg += "; ...";
  throw FormatError(file, msg);
}

}  // namespace ll::rt
