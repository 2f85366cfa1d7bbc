// llama2.c checkpoints (Karpathy's run.c format): a 7 x int32 header and f32 arrays in a fixed
// order. The weights are Meta-layout (interleaved RoPE pairs), the same rows as a llama GGUF.
#include <climits>
#include <cstring>

#include "runtime/model/arch.h"
#include "runtime/model/loaders.h"
#include "runtime/model/spec_check.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::rt {

namespace fs = std::filesystem;

std::unique_ptr<Model> loadLlama2cModel(const fs::path& path, const fs::path& tokenizerPath,
                                        const ProgressReporter& progress) {
  progress(0.0f, "reading llama2.c header");
  auto map = MappedFile::open(path);
  if (map->size() < 28) throw FormatError(path, "too small for a llama2.c checkpoint");
  int32_t h[7];
  std::memcpy(h, map->data(), sizeof h);
  const int32_t dim = h[0], hidden = h[1], nLayer = h[2], nHead = h[3], nHeadKv = h[4],
                seqLen = h[6];
  const bool shared = h[5] > 0;
  const int32_t vocab = h[5] == INT32_MIN ? 0 : (h[5] > 0 ? h[5] : -h[5]);
  const int32_t limits[7] = {1 << 16, 1 << 18, 1024, 1024, 1024, 1 << 21, 1 << 20};
  const char* names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                          "n_kv_heads", "vocab_size", "seq_len"};
  const int32_t vals[7] = {dim, hidden, nLayer, nHead, nHeadKv, vocab, seqLen};
  for (int i = 0; i < 7; ++i)
    if (vals[i] <= 0 || vals[i] > limits[i])
      throw FormatError(path, std::string("header field ") + names[i] + " = " +
                                  std::to_string(vals[i]) +
                                  " is out of range (not a llama2.c checkpoint?)");
  if (dim % nHead != 0 || nHead % nHeadKv != 0)
    throw FormatError(path, "dim " + std::to_string(dim) + " / n_heads " + std::to_string(nHead) +
                                " / n_kv_heads " + std::to_string(nHeadKv) + " do not divide");
  const int64_t headSize = dim / nHead, kvDim = headSize * nHeadKv, L = nLayer;
  // Floats per array in file order (values are small enough after the limits above not to
  // overflow).
  const int64_t counts[] = {int64_t(vocab) * dim,
                            L * dim,
                            L * dim * dim,
                            L * dim * kvDim,
                            L * dim * kvDim,
                            L * dim * dim,
                            L * dim,
                            L * dim * hidden,
                            L * hidden * dim,
                            L * dim * hidden,
                            dim,
                            int64_t(seqLen) * headSize / 2,
                            int64_t(seqLen) * headSize / 2};
  int64_t floats = 0;
  for (int64_t c : counts) floats += c;
  const int64_t expected = 28 + 4 * (floats + (shared ? 0 : int64_t(vocab) * dim));
  if (int64_t(map->size()) != expected)
    throw FormatError(path, "is " + std::to_string(map->size()) + " bytes but its header implies " +
                                std::to_string(expected) +
                                " (truncated or not a llama2.c checkpoint)");

  auto model = std::make_unique<Model>();
  model->path = path;
  model->format = "llama2c";
  model->fileBytes = map->size();
  ModelSpec& s = model->spec;
  applyArchLayout(*findArch("llama"), s);
  s.name = path.stem().string();
  s.nLayer = nLayer;
  s.nEmbd = dim;
  s.nHead = nHead;
  s.nHeadKv = nHeadKv;
  s.headDim = int(headSize);
  s.nFf = hidden;
  s.nCtx = seqLen;
  s.nVocab = vocab;
  s.normEps = 1e-5f;  // run.c's rmsnorm
  s.rope.nRot = int(headSize);
  s.rope.base = 10000.0f;
  validateSpec(s, path);

  progress(0.3f, "mapping tensors");
  WeightStore& w = model->weights;
  w.keep(map);
  const uint8_t* p = map->data() + 28;
  auto take = [&](int64_t n) {
    const uint8_t* at = p;
    p += n * 4;
    return at;
  };
  auto add = [&](const std::string& name, const uint8_t* data, std::vector<int64_t> ne) {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    w.add(TensorData{name, kern::QType::F32, std::move(ne), data, size_t(n) * 4});
  };
  auto perLayer = [&](const char* name, int64_t idx, std::vector<int64_t> ne) {
    const uint8_t* base = take(counts[idx]);
    const int64_t per = counts[idx] / L;
    for (int l = 0; l < nLayer; ++l)
      add("blk." + std::to_string(l) + "." + name, base + l * per * 4, ne);
  };
  add("token_embd.weight", take(counts[0]), {dim, vocab});
  perLayer("attn_norm.weight", 1, {dim});
  perLayer("attn_q.weight", 2, {dim, dim});
  perLayer("attn_k.weight", 3, {dim, kvDim});
  perLayer("attn_v.weight", 4, {dim, kvDim});
  perLayer("attn_output.weight", 5, {dim, dim});
  perLayer("ffn_norm.weight", 6, {dim});
  perLayer("ffn_gate.weight", 7, {dim, hidden});  // w1
  perLayer("ffn_down.weight", 8, {hidden, dim});  // w2
  perLayer("ffn_up.weight", 9, {dim, hidden});    // w3
  add("output_norm.weight", take(counts[10]), {dim});
  take(counts[11]);  // freq_cis_real: RoPE tables, recomputed by the engine
  take(counts[12]);  // freq_cis_imag
  if (!shared) add("output.weight", take(int64_t(vocab) * dim), {dim, vocab});
  s.tiedOutput = shared;
  countTensorTypes(w, s);
  checkTensors(s, w, path);

  progress(0.7f, "reading tokenizer");
  fs::path tok = tokenizerPath;
  if (tok.empty()) tok = path.parent_path() / ("tok" + std::to_string(vocab) + ".bin");
  if (!fs::exists(tok))
    throw FormatError(
        path, "needs its tokenizer " + tok.filename().string() + " next to it (or pass one)");
  try {
    model->tokenizer = makeTokenizer(vocabFromLlama2c(tok));
  } catch (const FormatError&) {
    throw;
  } catch (const std::exception& e) {
    throw FormatError(tok, std::string("tokenizer: ") + e.what());
  }
  if (model->tokenizer->vocabSize() != vocab)
    throw FormatError(tok, "has " + std::to_string(model->tokenizer->vocabSize()) +
                               " tokens, the model " + std::to_string(vocab));
  progress(1.0f, "done");
  return model;
}

}  // namespace ll::rt
