// Hugging Face folders: config.json + model.safetensors (or shards listed in
// model.safetensors.index.json) + tokenizer.json. Tensors get GGUF names and GGUF layouts here so
// the engine never sees HF conventions.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "runtime/formats/safetensors.h"
#include "runtime/model/arch.h"
#include "runtime/model/hf_config.h"
#include "runtime/model/loaders.h"
#include "runtime/model/spec_check.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::rt {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

json readJsonFile(const fs::path& p, size_t maxBytes) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  if (ec) throw FormatError(p, "cannot read: " + ec.message());
  if (size > maxBytes)
    throw FormatError(p, "is " + std::to_string(size) + " bytes, too large for a JSON header");
  std::ifstream in(p, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw FormatError(p, std::string("invalid JSON: ") + e.what());
  }
}

size_t elemSize(kern::QType t) {
  return t == kern::QType::F32 ? 4 : 2;
}

std::vector<uint8_t> toF32(const SafetensorsTensor& t) {
  std::vector<uint8_t> out(size_t(t.nElements()) * 4);
  kern::dequantizeRow(t.type, t.data, reinterpret_cast<float*>(out.data()), t.nElements());
  return out;
}

// convert_hf_to_gguf's permute(): rows of each head go from rotate-half order (first half of the
// head's dimensions, then second half) to interleaved pairs: gguf row 2i+j <- hf row j*hd/2 + i.
std::vector<uint8_t> permuteRows(const uint8_t* src, int64_t rows, size_t rowBytes, int groups,
                                 const fs::path& file, const std::string& name) {
  if (groups <= 0 || rows % (2 * int64_t(groups)) != 0)
    throw FormatError(file, "cannot permute " + name + ": " + std::to_string(rows) + " rows for " +
                                std::to_string(groups) + " heads");
  const int64_t hd = rows / groups, half = hd / 2;
  std::vector<uint8_t> out(size_t(rows) * rowBytes);
  for (int64_t h = 0; h < groups; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::memcpy(out.data() + size_t(h * hd + 2 * i + j) * rowBytes,
                    src + size_t(h * hd + j * half + i) * rowBytes, rowBytes);
  return out;
}

// [a, b] -> [b, a] in tiles so both sides stay in cache (GPT-2 XL has 1.5G elements to move).
template <class T>
void transposeTyped(const uint8_t* src, uint8_t* dst, int64_t a, int64_t b) {
  constexpr int64_t kTile = 64;
  for (int64_t i0 = 0; i0 < a; i0 += kTile)
    for (int64_t j0 = 0; j0 < b; j0 += kTile)
      for (int64_t i = i0; i < std::min(a, i0 + kTile); ++i)
        for (int64_t j = j0; j < std::min(b, j0 + kTile); ++j) {
          T v;
          std::memcpy(&v, src + size_t(i * b + j) * sizeof(T), sizeof(T));
          std::memcpy(dst + size_t(j * a + i) * sizeof(T), &v, sizeof(T));
        }
}

std::vector<uint8_t> transpose(const uint8_t* src, int64_t a, int64_t b, size_t es) {
  std::vector<uint8_t> out(size_t(a * b) * es);
  if (es == 4)
    transposeTyped<uint32_t>(src, out.data(), a, b);
  else
    transposeTyped<uint16_t>(src, out.data(), a, b);
  return out;
}

TensorData convert(const SafetensorsTensor& t, const HfMapping& m, const ModelSpec& s,
                   WeightStore& w, const fs::path& file) {
  TensorData d;
  d.name = m.gguf;
  d.type = t.type;
  for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) d.ne.push_back(*it);
  if (d.ne.empty()) d.ne.push_back(1);
  const size_t es = elemSize(t.type);
  if (m.transform == HfTransform::Flatten) d.ne = {t.nElements()};
  if (d.ne.size() == 1) {
    // 1-D tensors (norms, biases) are F32 in GGUF files; keep that convention.
    std::vector<uint8_t> bytes;
    if (m.transform == HfTransform::PermuteQ || m.transform == HfTransform::PermuteK) {
      auto f32 = toF32(t);
      bytes = permuteRows(f32.data(), d.ne[0], 4,
                          m.transform == HfTransform::PermuteQ ? s.nHead : s.nHeadKv, file, t.name);
    } else {
      bytes = toF32(t);
    }
    if (m.transform == HfTransform::AddOne) {
      // Gemma's RMSNorm multiplies by (1 + w) in float32; GGUF (and the engine) keep 1 + w.
      auto* v = reinterpret_cast<float*>(bytes.data());
      for (int64_t i = 0; i < d.ne[0]; ++i) v[i] += 1.0f;
    }
    d.type = kern::QType::F32;
    d.nbytes = bytes.size();
    d.data = w.own(std::move(bytes));
    return d;
  }
  switch (m.transform) {
    case HfTransform::PermuteQ:
    case HfTransform::PermuteK: {
      if (d.ne.size() != 2) throw FormatError(file, t.name + " must be 2-D");
      auto bytes =
          permuteRows(t.data, d.ne[1], size_t(d.ne[0]) * es,
                      m.transform == HfTransform::PermuteQ ? s.nHead : s.nHeadKv, file, t.name);
      d.nbytes = bytes.size();
      d.data = w.own(std::move(bytes));
      return d;
    }
    case HfTransform::Transpose: {
      if (t.shape.size() != 2) throw FormatError(file, t.name + " (Conv1D) must be 2-D");
      auto bytes = transpose(t.data, t.shape[0], t.shape[1], es);
      d.ne = {t.shape[0], t.shape[1]};
      d.nbytes = bytes.size();
      d.data = w.own(std::move(bytes));
      return d;
    }
    case HfTransform::AddOne:
      throw FormatError(file, t.name + " (a norm weight) must be 1-D");
    default:
      break;
  }
  d.nbytes = t.nbytes;
  if (reinterpret_cast<uintptr_t>(t.data) % es == 0) {
    d.data = t.data;
  } else {
    d.data = w.own(std::vector<uint8_t>(t.data, t.data + t.nbytes));
  }
  return d;
}

std::vector<std::unique_ptr<SafetensorsFile>> openShards(const fs::path& dir,
                                                         const ProgressReporter& progress) {
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  const fs::path single = dir / "model.safetensors", index = dir / "model.safetensors.index.json";
  if (fs::exists(single)) {
    files.push_back(SafetensorsFile::open(single));
    return files;
  }
  if (!fs::exists(index))
    throw FormatError(dir, "no model.safetensors or model.safetensors.index.json");
  const json j = readJsonFile(index, 64u << 20);
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw FormatError(index, "has no weight_map object");
  std::map<std::string, std::string> want;  // tensor -> shard
  std::set<std::string> shards;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      throw FormatError(index, "weight_map entry '" + it.key() + "' is not a file name");
    const std::string shard = it.value().get<std::string>();
    if (shard.empty() || shard.find('/') != std::string::npos ||
        shard.find('\\') != std::string::npos || shard == "." || shard == "..")
      throw FormatError(index, "weight_map names an invalid shard file '" + shard + "'");
    want[it.key()] = shard;
    shards.insert(shard);
  }
  if (shards.empty()) throw FormatError(index, "weight_map is empty");
  std::map<std::string, const SafetensorsFile*> byName;
  size_t k = 0;
  for (const auto& shard : shards) {
    progress(0.1f + 0.3f * float(k++) / float(shards.size()), "opening " + shard);
    files.push_back(SafetensorsFile::open(dir / shard));
    byName[shard] = files.back().get();
  }
  for (const auto& [tensor, shard] : want)
    if (!byName[shard]->tensor(tensor))
      throw FormatError(
          index, "weight_map puts '" + tensor + "' in " + shard + ", which does not contain it");
  return files;
}

}  // namespace

std::unique_ptr<Model> loadHfModel(const fs::path& dir, const ProgressReporter& progress) {
  progress(0.0f, "reading config.json");
  const fs::path cfgPath = dir / "config.json";
  if (!fs::exists(cfgPath))
    throw FormatError(dir, "no config.json (not a Hugging Face model folder)");
  const json cfg = readJsonFile(cfgPath, 16u << 20);
  auto model = std::make_unique<Model>();
  model->path = dir;
  model->format = "hf";
  ModelSpec& spec = model->spec;
  spec = specFromHfConfig(cfg, cfgPath);
  validateSpec(spec, cfgPath);
  bool tie = archOf(spec).hfTiedByDefault;
  if (cfg.contains("tie_word_embeddings") && cfg["tie_word_embeddings"].is_boolean())
    tie = cfg["tie_word_embeddings"].get<bool>();

  progress(0.1f, "opening safetensors");
  auto files = openShards(dir, progress);
  progress(0.4f, "converting tensors");
  std::map<std::string, const SafetensorsTensor*> seen;
  std::map<std::string, std::vector<const SafetensorsTensor*>> experts;
  std::map<std::string, fs::path> expertFile;
  for (const auto& f : files) {
    model->fileBytes += f->mapping()->size();
    model->weights.keep(f->mapping());
    for (const auto& t : f->tensors()) {
      auto m = mapHfTensorName(spec, t.name);
      if (!m) continue;
      if (tie && m->gguf == "output.weight") continue;
      if (m->expert >= 0) {
        if (m->expert >= spec.nExpert)
          throw FormatError(f->path(), t.name + ": expert " + std::to_string(m->expert) +
                                           " but the config has " + std::to_string(spec.nExpert));
        auto& slots = experts[m->gguf];
        slots.resize(size_t(spec.nExpert), nullptr);
        if (slots[size_t(m->expert)]) throw FormatError(f->path(), "duplicate tensor " + t.name);
        slots[size_t(m->expert)] = &t;
        expertFile[m->gguf] = f->path();
        continue;
      }
      if (!seen.emplace(m->gguf, &t).second)
        throw FormatError(f->path(), "two tensors map to " + m->gguf + " (" + seen[m->gguf]->name +
                                         ", " + t.name + ")");
      model->weights.add(convert(t, *m, spec, model->weights, f->path()));
    }
  }
  for (auto& [name, slots] : experts) {
    const fs::path& file = expertFile[name];
    for (size_t e = 0; e < slots.size(); ++e)
      if (!slots[e])
        throw FormatError(file, name + ": expert " + std::to_string(e) + " is missing");
    const SafetensorsTensor& first = *slots[0];
    if (first.shape.size() != 2) throw FormatError(file, first.name + " must be 2-D");
    std::vector<uint8_t> bytes;
    bytes.reserve(first.nbytes * slots.size());
    for (const auto* t : slots) {
      if (t->shape != first.shape || t->type != first.type)
        throw FormatError(file, t->name + " differs in shape or dtype from " + first.name);
      bytes.insert(bytes.end(), t->data, t->data + t->nbytes);
    }
    TensorData d{name,
                 first.type,
                 {first.shape[1], first.shape[0], int64_t(slots.size())},
                 nullptr,
                 bytes.size()};
    d.data = model->weights.own(std::move(bytes));
    model->weights.add(std::move(d));
  }
  spec.tiedOutput = model->weights.find("output.weight") == nullptr;
  countTensorTypes(model->weights, spec);
  checkTensors(spec, model->weights, dir);

  progress(0.8f, "building tokenizer");
  const fs::path tokPath = dir / "tokenizer.json";
  if (!fs::exists(tokPath)) throw FormatError(dir, "no tokenizer.json");
  try {
    model->tokenizer = makeTokenizer(vocabFromTokenizerJson(tokPath));
  } catch (const FormatError&) {
    throw;
  } catch (const std::exception& e) {
    throw FormatError(tokPath, std::string("tokenizer: ") + e.what());
  }
  const fs::path tokCfg = dir / "tokenizer_config.json";
  if (fs::exists(tokCfg)) {
    const json tc = readJsonFile(tokCfg, 16u << 20);
    if (tc.is_object() && tc.contains("chat_template") && tc["chat_template"].is_string())
      model->chatTemplate = tc["chat_template"].get<std::string>();
  }
  progress(1.0f, "done");
  return model;
}

}  // namespace ll::rt
