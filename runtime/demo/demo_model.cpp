// Builds the demo model's vocabulary and constructed weights (see demo_model.h for the design).
#include "runtime/demo/demo_model.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "runtime/formats/gguf_writer.h"

namespace ll::rt::demo {

// ' ' stands for the SPM space piece "▁".
const std::string_view kDemoChars =
    " abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?;:'\"-()";

namespace {

constexpr int kEmbd = 256, kHeads = 2, kHeadDim = 96, kRot = 16, kCtx = 512, kFfExp = 4;
constexpr float kRopeBase = 256.0f;  // pair p turns by 256^(-2p/16) = 2^-p radians per position
constexpr int kId = 0, kPrev = 80, kPred = 160, kClass = 240, kConst = 244, kIdDims = 80;
constexpr int kSinkDim = 79;  // content dim (within a head) used for the <s> sink score
constexpr int kOtherIdx = 0, kBosIdx = 1;
const char* const kSpace = "\xe2\x96\x81";  // ▁

// Target pre-softmax scores (after the 1/sqrt(headDim) scale).
constexpr float kPosScore = 30.0f;    // per unit of the RoPE cosine sum (8 pairs; gap >= 0.62)
constexpr float kMatchScore = 40.0f;  // induction match; the <s> sink gets half
constexpr float kRouterLogit = 10.0f;
constexpr float kGate = 8.0f;

struct Mat {
  int rows, cols;
  std::vector<float> v;
  Mat(int r, int c) : rows(r), cols(c), v(size_t(r) * c, 0.0f) {}
  float& at(int r, int c) { return v[size_t(r) * cols + c]; }
};

std::string pieceOfChar(char c) {
  return c == ' ' ? std::string(kSpace) : std::string(1, c);
}

CharClass classOfChar(char c) {
  if (std::strchr("aeiouAEIOU", c) && c != 0) return CharClass::Vowel;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return CharClass::Consonant;
  if (c >= '0' && c <= '9') return CharClass::Digit;
  return CharClass::Other;
}

// RMSNorm makes every residual vector with m unit entries (and zeros elsewhere) have entries
// sqrt(nEmbd / m); weights divide by this so the scores above come out as designed.
float normScale(int unitEntries) {
  return std::sqrt(float(kEmbd) / float(unitEntries));
}

}  // namespace

CharClass classOfPiece(std::string_view piece) {
  if (piece == kSpace) return CharClass::Other;
  if (piece.size() == 1) return classOfChar(piece[0]);
  return CharClass::Other;
}

void writeDemoModel(const std::filesystem::path& path) {
  const int nChars = int(kDemoChars.size());
  const int nVocab = kFirstCharToken + nChars;
  // Vocabulary
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  std::vector<int> idIndex;  // token -> identity index
  std::vector<CharClass> cls;
  auto addTok = [&](std::string t, int type, int idx, CharClass c) {
    tokens.push_back(std::move(t));
    scores.push_back(0.0f);
    types.push_back(type);
    idIndex.push_back(idx);
    cls.push_back(c);
  };
  addTok("<unk>", 2, kOtherIdx, CharClass::Other);
  addTok("<s>", 3, kBosIdx, CharClass::Other);
  addTok("</s>", 3, kOtherIdx, CharClass::Other);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    addTok(buf, 6, kOtherIdx, CharClass::Other);
  }
  for (int i = 0; i < nChars; ++i)
    addTok(pieceOfChar(kDemoChars[i]), 1, 2 + i, classOfChar(kDemoChars[i]));
  if (2 + nChars > kSinkDim) throw std::logic_error("demo model: too many characters");

  GgufWriter w;
  w.addString("general.architecture", "llama");
  w.addString("general.name", "LayerLens demo (constructed weights)");
  w.addU32("general.file_type", 0);
  w.addU32("llama.block_count", 2);
  w.addU32("llama.embedding_length", kEmbd);
  w.addU32("llama.context_length", kCtx);
  w.addU32("llama.attention.head_count", kHeads);
  w.addU32("llama.attention.head_count_kv", kHeads);
  w.addU32("llama.attention.key_length", kHeadDim);
  w.addU32("llama.attention.value_length", kHeadDim);
  w.addU32("llama.feed_forward_length", kFfExp);
  w.addU32("llama.expert_feed_forward_length", kFfExp);
  w.addU32("llama.expert_count", kNumExperts);
  w.addU32("llama.expert_used_count", 1);
  w.addU32("llama.rope.dimension_count", kRot);
  w.addF32("llama.rope.freq_base", kRopeBase);
  w.addF32("llama.attention.layer_norm_rms_epsilon", 1e-6f);
  w.addU32("llama.vocab_size", uint32_t(nVocab));
  w.addString("tokenizer.ggml.model", "llama");
  w.addStringArray("tokenizer.ggml.tokens", tokens);
  w.addF32Array("tokenizer.ggml.scores", scores);
  w.addI32Array("tokenizer.ggml.token_type", types);
  w.addU32("tokenizer.ggml.bos_token_id", 1);
  w.addU32("tokenizer.ggml.eos_token_id", 2);
  w.addU32("tokenizer.ggml.unknown_token_id", 0);
  w.addBool("tokenizer.ggml.add_bos_token", true);
  w.addBool("tokenizer.ggml.add_eos_token", false);
  w.addBool("tokenizer.ggml.add_space_prefix", true);

  auto put = [&](const std::string& name, const Mat& m) {
    w.addTensorF32(name, {m.cols, m.rows}, m.v);
  };
  auto ones = [](int n) { return std::vector<float>(size_t(n), 1.0f); };

  Mat embd(nVocab, kEmbd);
  for (int t = 0; t < nVocab; ++t) {
    embd.at(t, kId + idIndex[t]) = 1.0f;
    embd.at(t, kConst) = 1.0f;
  }
  put("token_embd.weight", embd);

  const float scale = 1.0f / std::sqrt(float(kHeadDim));
  const int qd = kHeads * kHeadDim;
  const float n0 = normScale(2);  // embedding: identity + constant
  const float n1 = normScale(3);  // + previous-token identity
  const float n2 = normScale(4);  // + predicted token
  const float n3 = normScale(5);  // + class marker

  for (int l = 0; l < 2; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    Mat wq(qd, kEmbd), wk(qd, kEmbd), wv(qd, kEmbd), wo(kEmbd, qd);
    if (l == 0) {
      // Constant q and k on the rotary pairs; k is pre-rotated by `offset` positions so that the
      // RoPE-rotated dot product is sum_p cos((i - j - offset) * 2^-p), maximal at i - j = offset.
      const float amp = std::sqrt(kPosScore / scale);
      for (int h = 0; h < kHeads; ++h) {
        const int offset = h == kPrevTokenHead ? 1 : 0;
        for (int p = 0; p < kRot / 2; ++p) {
          const double theta = std::pow(double(kRopeBase), -2.0 * p / kRot) * offset;
          wq.at(h * kHeadDim + 2 * p, kConst) = amp / n0;
          wk.at(h * kHeadDim + 2 * p, kConst) = float(amp * std::cos(theta) / n0);
          wk.at(h * kHeadDim + 2 * p + 1, kConst) = float(amp * std::sin(theta) / n0);
        }
      }
      // Previous-token head: value = identity, written to the previous-token subspace.
      for (int k = 0; k < kIdDims; ++k) {
        wv.at(kPrevTokenHead * kHeadDim + kRot + k, kId + k) = 1.0f / n0;
        wo.at(kPrev + k, kPrevTokenHead * kHeadDim + kRot + k) = 1.0f;
      }
    } else {
      const float amp = std::sqrt(kMatchScore / scale);
      const int h0 = kInductionHead * kHeadDim + kRot, h1 = kSinkHead * kHeadDim + kRot;
      for (int k = 0; k < kSinkDim; ++k) {
        wq.at(h0 + k, kId + k) = amp / n1;    // "which token am I"
        wk.at(h0 + k, kPrev + k) = amp / n1;  // "which token came before you"
        wv.at(h0 + k, kId + k) = 1.0f / n1;   // copy the attended token ...
        wo.at(kPred + k, h0 + k) = 1.0f;      // ... into the prediction subspace
      }
      // Sink: every query has a constant component; <s> keys answer it (half strength for the
      // induction head so a real match wins, full strength for the sink head).
      wq.at(h0 + kSinkDim, kConst) = amp / n1;
      wk.at(h0 + kSinkDim, kId + kBosIdx) = 0.5f * amp / n1;
      wq.at(h1 + kSinkDim, kConst) = amp / n1;
      wk.at(h1 + kSinkDim, kId + kBosIdx) = amp / n1;
    }
    w.addTensorF32(b + "attn_norm.weight", {kEmbd}, ones(kEmbd));
    put(b + "attn_q.weight", wq);
    put(b + "attn_k.weight", wk);
    put(b + "attn_v.weight", wv);
    put(b + "attn_output.weight", wo);
    w.addTensorF32(b + "ffn_norm.weight", {kEmbd}, ones(kEmbd));

    Mat router(kNumExperts, kEmbd);
    std::vector<float> gate(size_t(kNumExperts) * kFfExp * kEmbd, 0.0f);
    std::vector<float> up(gate.size(), 0.0f), down(gate.size(), 0.0f);
    if (l == kMoeLayer) {
      for (int t = 0; t < nVocab; ++t) router.at(int(cls[t]), kId + idIndex[t]) = kRouterLogit / n2;
      const float silu = kGate / (1.0f + std::exp(-kGate));
      for (int e = 0; e < kNumExperts; ++e) {
        gate[size_t(e) * kFfExp * kEmbd + kConst] = kGate / n2;  // hidden row 0
        up[size_t(e) * kFfExp * kEmbd + kConst] = 1.0f / n2;
        down[(size_t(e) * kEmbd + kClass + e) * kFfExp + 0] = 1.0f / silu;
      }
    }
    put(b + "ffn_gate_inp.weight", router);
    w.addTensorF32(b + "ffn_gate_exps.weight", {kEmbd, kFfExp, kNumExperts}, gate);
    w.addTensorF32(b + "ffn_up_exps.weight", {kEmbd, kFfExp, kNumExperts}, up);
    w.addTensorF32(b + "ffn_down_exps.weight", {kFfExp, kEmbd, kNumExperts}, down);
  }
  w.addTensorF32("output_norm.weight", {kEmbd}, ones(kEmbd));
  Mat out(nVocab, kEmbd);
  for (int t = 0; t < nVocab; ++t) {
    if (types[t] == 2 || types[t] == 3) continue;  // never predict <unk>, <s>, </s>
    out.at(t, kPred + idIndex[t]) = 10.0f / n3;
    out.at(t, kClass + int(cls[t])) = 1.0f / n3;
  }
  put("output.weight", out);
  w.write(path);
}

}  // namespace ll::rt::demo
