// config.json fields per HF model class and the HF -> GGUF tensor name table.
#include "runtime/model/hf_config.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <map>

#include "runtime/formats/mapped_file.h"
#include "runtime/model/arch.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt {

namespace {

using json = nlohmann::json;

void readRopeScaling(const ConfigReader& r, const ArchDesc& a, ModelSpec& s) {
  if (!r.has("rope_scaling")) return;
  const json& rs = r.raw()["rope_scaling"];
  if (!rs.is_object()) r.fail("'rope_scaling' is not an object");
  std::string type;
  for (const char* k : {"rope_type", "type"})
    if (rs.contains(k) && rs[k].is_string()) type = rs[k].get<std::string>();
  auto num = [&](const char* k, double def) {
    if (!rs.contains(k) || rs[k].is_null()) return def;
    if (!rs[k].is_number() || !std::isfinite(rs[k].get<double>()))
      r.fail(std::string("rope_scaling.") + k + " is not a number");
    return rs[k].get<double>();
  };
  if (type == "linear") {
    const double f = num("factor", 1.0);
    if (!(f > 0)) r.fail("rope_scaling.factor must be positive");
    s.rope.freqScale = float(1.0 / f);
  } else if (type == "llama3") {
    s.rope.llama3Factor = float(num("factor", 8.0));
    s.rope.llama3LowFreqFactor = float(num("low_freq_factor", 1.0));
    s.rope.llama3HighFreqFactor = float(num("high_freq_factor", 4.0));
    const double orig = num("original_max_position_embeddings", 8192);
    if (!(orig >= 1 && orig <= INT_MAX))
      r.fail("rope_scaling.original_max_position_embeddings out of range");
    s.rope.llama3OrigCtx = int(orig);
  } else if (!type.empty() && type != "default" &&
             std::find(a.hfRopeTypes.begin(), a.hfRopeTypes.end(), type) == a.hfRopeTypes.end()) {
    std::string supported = "linear, llama3";
    for (auto t : a.hfRopeTypes) supported += ", " + std::string(t);
    r.fail("unsupported rope_scaling type '" + type + "' (supported: " + supported + ")");
  }
}

}  // namespace

ModelSpec specFromHfConfig(const json& config, const std::filesystem::path& path) {
  const ConfigReader r(config, path);
  if (!config.is_object()) r.fail("config.json is not a JSON object");
  std::string cls;
  if (config.contains("architectures") && config["architectures"].is_array() &&
      !config["architectures"].empty() && config["architectures"][0].is_string())
    cls = config["architectures"][0].get<std::string>();
  const ArchDesc* a = findArchByHfClass(cls);
  if (!a) {
    std::string list;
    for (const ArchDesc* d : architectures())
      for (auto c : d->hfClasses) list += (list.empty() ? "" : ", ") + std::string(c);
    r.fail("unsupported model class '" + cls + "' (supported: " + list + ")");
  }
  ModelSpec s;
  applyArchLayout(*a, s);
  s.name = config.contains("_name_or_path") && config["_name_or_path"].is_string()
               ? config["_name_or_path"].get<std::string>()
               : path.parent_path().filename().string();
  if (a->hfLlamaConfig) {
    s.nEmbd = r.reqInt("hidden_size");
    s.nLayer = r.reqInt("num_hidden_layers");
    s.nHead = r.reqInt("num_attention_heads");
    s.nHeadKv = r.optInt("num_key_value_heads").value_or(s.nHead);
    if (auto hd = r.optInt("head_dim")) {
      s.headDim = *hd;
    } else {
      if (s.nHead == 0 || s.nEmbd % s.nHead)
        r.fail("hidden_size is not a multiple of num_attention_heads");
      s.headDim = s.nEmbd / s.nHead;
    }
    s.nCtx = r.optInt("max_position_embeddings").value_or(2048);
    s.nVocab = r.reqInt("vocab_size");
    s.normEps = float(r.optFloat("rms_norm_eps").value_or(1e-6));
    s.rope.base = float(r.optFloat("rope_theta").value_or(10000.0));
    s.rope.nRot = s.headDim;
    readRopeScaling(r, *a, s);
    // Llama-class checkpoints with q/k/v biases (attention_bias) need them applied, like qwen2.
    if (r.optBool("attention_bias").value_or(false)) s.qkvBias = true;
    if (r.optBool("mlp_bias").value_or(false)) r.fail("mlp_bias is not supported");
  }
  if (a->hfExtra) a->hfExtra(r, s);
  deriveLayout(*a, s);
  if (s.nExpert > 0 && a->expertNorm == ExpertNorm::Always) s.expertWeightsNorm = true;
  return s;
}

namespace {

// Matches an HF name against a pattern with {L} (layer) and {E} (expert) digit fields.
bool matchPattern(std::string_view pat, std::string_view name, int& layer, int& expert) {
  size_t i = 0, j = 0;
  while (i < pat.size()) {
    if (pat.compare(i, 3, "{L}") == 0 || pat.compare(i, 3, "{E}") == 0) {
      size_t k = j;
      while (k < name.size() && k - j < 6 && std::isdigit(static_cast<unsigned char>(name[k]))) ++k;
      if (k == j) return false;
      (pat[i + 1] == 'L' ? layer : expert) = std::stoi(std::string(name.substr(j, k - j)));
      i += 3;
      j = k;
      continue;
    }
    if (j >= name.size() || pat[i] != name[j]) return false;
    ++i;
    ++j;
  }
  return j == name.size();
}

}  // namespace

std::optional<HfMapping> mapHfTensorName(const ModelSpec& s, const std::string& hfName) {
  const ArchDesc& a = archOf(s);
  std::string_view n = hfName;
  if (!a.hfPrefix.empty() && n.substr(0, a.hfPrefix.size()) == a.hfPrefix)
    n.remove_prefix(a.hfPrefix.size());
  for (const TensorDesc& t : a.tensors) {
    if (!t.hf) continue;
    std::string_view alts = t.hf;
    while (!alts.empty()) {
      const size_t bar = alts.find('|');
      const std::string_view pat = alts.substr(0, bar);
      alts = bar == std::string_view::npos ? std::string_view() : alts.substr(bar + 1);
      int layer = -1, expert = -1;
      if (!matchPattern(pat, n, layer, expert)) continue;
      return HfMapping{tensorName(t, layer), t.hfTransform, expert};
    }
  }
  return std::nullopt;  // not used by the engine (e.g. gpt2's attn.bias causal-mask buffer)
}

}  // namespace ll::rt
