// GGUF models: the spec comes from <arch>.* metadata through the architecture description; tensors
// are used in place from the mapping.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#include "runtime/model/arch.h"
#include "runtime/model/hparam_keys.h"
#include "runtime/model/loaders.h"
#include "runtime/model/spec_check.h"
#include "runtime/model/spec_readers.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::rt {

namespace {

// llama3 rope scaling as written by llama.cpp's converter: a rope_freqs.weight tensor of per-pair
// frequency divisors. We reconstruct the parameters (factor, low/high freq factors, original
// context) and check that they reproduce the tensor.
void readRopeFreqs(const GgufFile& f, const GgufTensorInfo& t, ModelSpec& s,
                   const GgufSpecReader& r) {
  const int pairs = s.rope.nRot / 2;
  if (t.type != kern::QType::F32 || t.ne.size() != 1 || t.ne[0] != pairs)
    throw FormatError(f.path(), "rope_freqs.weight must be F32 [" + std::to_string(pairs) + "]");
  std::vector<float> div(pairs);
  std::memcpy(div.data(), t.data, size_t(pairs) * 4);
  const float factor =
      r.optFloat(HparamKeys::kRopeScaleFactor).value_or(*std::max_element(div.begin(), div.end()));
  s.rope.llama3Factor = factor;
  s.rope.llama3LowFreqFactor = float(r.optFloat(HparamKeys::kRopeLowFreq).value_or(1.0));
  s.rope.llama3HighFreqFactor = float(r.optFloat(HparamKeys::kRopeHighFreq).value_or(4.0));
  s.rope.llama3OrigCtx = r.optInt(HparamKeys::kRopeOrigCtx).value_or(8192);
  // Same formula as llama.cpp's converter (generate_extra_tensors for Llama 3.x).
  const double lowWavelen = s.rope.llama3OrigCtx / s.rope.llama3LowFreqFactor;
  const double highWavelen = s.rope.llama3OrigCtx / s.rope.llama3HighFreqFactor;
  for (int i = 0; i < pairs; ++i) {
    const double freq = 1.0 / std::pow(double(s.rope.base), 2.0 * i / s.rope.nRot);
    const double wavelen = 2 * M_PI / freq;
    double want;
    if (wavelen < highWavelen) {
      want = 1.0;
    } else if (wavelen > lowWavelen) {
      want = factor;
    } else {
      const double smooth = (s.rope.llama3OrigCtx / wavelen - s.rope.llama3LowFreqFactor) /
                            (s.rope.llama3HighFreqFactor - s.rope.llama3LowFreqFactor);
      want = 1.0 / ((1 - smooth) / factor + smooth);
    }
    if (std::fabs(want - div[i]) > 1e-3 * std::max(1.0, want))
      throw FormatError(f.path(), "rope_freqs.weight does not match llama3 rope scaling (pair " +
                                      std::to_string(i) + ": " + std::to_string(div[i]) + " vs " +
                                      std::to_string(want) + ")");
  }
}

// The common hyperparameters every family shares (per-family extras: ArchDesc::ggufExtra).
void readShape(const GgufFile& f, const ArchDesc& a, const GgufSpecReader& r, ModelSpec& s) {
  using K = HparamKeys;
  s.nLayer = r.reqInt(K::kLayers);
  s.nEmbd = r.reqInt(K::kEmbd);
  s.nHead = r.reqInt(K::kHeads);
  s.nHeadKv = r.optInt(K::kHeadsKv).value_or(s.nHead);
  if (auto kl = r.optInt(K::kKeyLength)) {
    s.headDim = *kl;
  } else {
    if (s.nHead <= 0 || s.nEmbd % s.nHead != 0)
      throw FormatError(f.path(), "embedding_length " + std::to_string(s.nEmbd) +
                                      " is not a multiple of head_count " +
                                      std::to_string(s.nHead));
    s.headDim = s.nEmbd / s.nHead;
  }
  s.nCtx = r.reqInt(K::kCtx);

  const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
  if (tokens && tokens->asArray())
    s.nVocab = static_cast<int>(std::min<size_t>(tokens->asArray()->size(), INT_MAX));
  else if (auto vs = r.optInt(K::kVocab))
    s.nVocab = *vs;
  else if (const auto* te = f.tensor("token_embd.weight"); te && te->ne.size() == 2)
    s.nVocab = static_cast<int>(std::min<int64_t>(te->ne[1], INT_MAX));

  s.nExpert = a.allowMoe ? r.optInt(K::kExperts).value_or(0) : 0;
  if (s.nExpert > 0) {
    s.nExpertUsed = r.reqInt(K::kExpertsUsed);
    auto ffExp = r.optInt(K::kFfExpert);
    s.nFfExpert = ffExp ? *ffExp : r.reqInt(K::kFf);
    s.nFf = a.moeOnly ? 0 : r.reqInt(K::kFf);
    if (a.sharedExpert) {
      if (auto sh = r.optInt(K::kFfShexp))
        s.nFfShexp = *sh;
      else  // the first layer that has one (not every layer need)
        for (int l = 0; l < s.nLayer && l < 4096 && s.nFfShexp == 0; ++l)
          if (const auto* t = f.tensor("blk." + std::to_string(l) + ".ffn_gate_shexp.weight");
              t && t->ne.size() == 2)
            s.nFfShexp = static_cast<int>(std::min<int64_t>(t->ne[1], INT_MAX));
    }
    s.expertWeightsNorm =
        a.expertNorm == ExpertNorm::Always ||
        (a.expertNorm == ExpertNorm::FromKey && r.optInt(K::kExpertNorm).value_or(0) != 0);
  } else {
    s.nFf = r.reqInt(K::kFf);
  }

  if (s.norm == NormKind::RmsNorm)
    s.normEps = float(r.optFloat(K::kRmsEps).value_or(1e-5));
  else
    s.normEps = float(r.optFloat(K::kLnEps).value_or(1e-5));
}

void readRope(const GgufFile& f, const GgufSpecReader& r, ModelSpec& s) {
  using K = HparamKeys;
  s.rope.nRot = r.optInt(K::kRopeDims).value_or(s.headDim);
  s.rope.base = float(r.optFloat(K::kRopeBase).value_or(10000.0));
  const std::string scaling = f.getString(r.key(K::kRopeScaleType)).value_or("none");
  auto factor = [&] {
    const double x = r.optFloat(K::kRopeScaleFactor).value_or(1.0);
    if (!(x > 0)) throw FormatError(f.path(), "rope.scaling.factor must be positive");
    return x;
  };
  if (scaling == "linear") {
    s.rope.freqScale = float(1.0 / factor());
  } else if (scaling == "llama3") {
    s.rope.llama3Factor = float(r.optFloat(K::kRopeScaleFactor).value_or(8.0));
    s.rope.llama3LowFreqFactor = float(r.optFloat(K::kRopeLowFreq).value_or(1.0));
    s.rope.llama3HighFreqFactor = float(r.optFloat(K::kRopeHighFreq).value_or(4.0));
    s.rope.llama3OrigCtx = r.optInt(K::kRopeOrigCtx).value_or(8192);
  } else if (scaling == "yarn") {
    // llama.cpp's defaults for a YaRN file: ext_factor 1, beta_fast 32, beta_slow 1.
    s.rope.freqScale = float(1.0 / factor());
    s.rope.yarnExtFactor = 1.0f;
    s.rope.yarnOrigCtx = r.optInt(K::kRopeOrigCtx).value_or(s.nCtx);
    s.rope.yarnBetaFast = float(r.optFloat("rope.scaling.yarn_beta_fast").value_or(32.0));
    s.rope.yarnBetaSlow = float(r.optFloat("rope.scaling.yarn_beta_slow").value_or(1.0));
    if (s.rope.yarnOrigCtx < 1)
      throw FormatError(f.path(), "rope.scaling.original_context_length must be positive");
  } else if (scaling != "none") {
    throw FormatError(f.path(), "unsupported rope scaling '" + scaling +
                                    "' (supported: none, linear, llama3, yarn)");
  }
  if (const auto* rf = f.tensor("rope_freqs.weight");
      rf && s.rope.nRot >= 2 && s.rope.nRot <= 65536)
    readRopeFreqs(f, *rf, s, r);
}

}  // namespace

ModelSpec specFromGguf(const GgufFile& f) {
  auto archName = f.getString("general.architecture");
  if (!archName) throw FormatError(f.path(), "missing general.architecture");
  const ArchDesc* a = findArch(*archName);
  if (!a)
    throw FormatError(f.path(), "unsupported architecture '" + *archName +
                                    "' (supported: " + supportedArchitecturesText() + ")");
  ModelSpec s;
  applyArchLayout(*a, s);
  s.name = f.getString("general.name").value_or("");
  const GgufSpecReader r(f, s.arch);
  readShape(f, *a, r, s);
  if (s.hasRope) readRope(f, r, s);
  if (a->windowLayers != WindowLayers::None)
    s.window = r.optInt("attention.sliding_window").value_or(0);
  // Files converted from models with attention biases carry them; the engine must use them.
  if (!s.qkvBias && f.tensor("blk.0.attn_q.bias")) s.qkvBias = true;
  s.tiedOutput = f.tensor("output.weight") == nullptr;
  if (a->ggufExtra) a->ggufExtra(r, s);
  deriveLayout(*a, s);
  for (const auto& t : f.tensors()) s.tensorTypeCounts[std::string(kern::qtypeName(t.type))]++;
  return s;
}

void countTensorTypes(const WeightStore& weights, ModelSpec& spec) {
  spec.tensorTypeCounts.clear();
  for (const auto& [name, t] : weights.all())
    spec.tensorTypeCounts[std::string(kern::qtypeName(t.type))]++;
}

std::unique_ptr<Model> loadGgufModel(const std::filesystem::path& path,
                                     const ProgressReporter& progress) {
  progress(0.0f, "reading GGUF header");
  auto file = GgufFile::open(path);
  if (file->tensors().empty())
    throw FormatError(path, "has no tensors (a vocabulary-only GGUF cannot be loaded as a model)");
  auto model = std::make_unique<Model>();
  model->path = path;
  model->format = "gguf";
  model->fileBytes = file->fileSize();
  progress(0.2f, "reading hyperparameters");
  model->spec = specFromGguf(*file);
  validateSpec(model->spec, path);
  progress(0.4f, "mapping tensors");
  model->weights.keep(file->mapping());
  for (const auto& t : file->tensors())
    model->weights.add(TensorData{t.name, t.type, t.ne, t.data, t.nbytes});
  checkTensors(model->spec, model->weights, path);
  progress(0.7f, "building tokenizer");
  try {
    model->tokenizer = makeTokenizer(vocabFromGguf(*file));
  } catch (const FormatError&) {
    throw;
  } catch (const std::exception& e) {
    throw FormatError(path, std::string("tokenizer: ") + e.what());
  }
  model->chatTemplate = file->getString("tokenizer.chat_template").value_or("");
  progress(1.0f, "done");
  return model;
}

}  // namespace ll::rt
