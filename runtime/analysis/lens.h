// Logit lens (ALGORITHMS.md §6) and per-token output entropy (§7): hidden states projected
// through the final norm (or not: the BuPO variant) and the LM head on the engine's backend, with
// entropy, top-k, rank of a chosen token and the early-exit layer; fork tokens; the student vs
// teacher JSD and entropy x divergence quadrants.
#pragma once

#include <cstdint>
#include <vector>
#include "runtime/api/trace.h"

namespace ll::rt {
class Engine;
}

namespace ll::rt::ana {

// Projects hidden-state rows [n, nEmbd] to logits [n, nVocab] on the engine's backend (the
// model's own LM head weight: an f32 copy of a quantized head was measured slower on the CPU,
// since a few dozen rows are bandwidth-bound and f32 is 4x the bytes of Q8_0).
class LensProjector {
 public:
  explicit LensProjector(Engine& engine);
  void project(const float* rows, int n, bool finalNorm, float* logits);
  int nVocab() const;
  int nEmbd() const;
  Engine& engine() { return m_engine; }

 private:
  Engine& m_engine;
};

struct LensOptions {
  bool finalNorm = true;  // false: the BuPO variant (no final norm before W_U)
  int topK = 5;
  int32_t target = -1;      // token whose rank and probability are reported (-1: none)
  std::vector<int> tokens;  // sequence indices to analyse (empty: all)
  bool mid = true;          // also the point after attention + residual inside each layer
};

// Rows: 0 = token embeddings (the input of block 0), l + 1 = residual after layer l.
struct LensResult {
  int nRows = 0;  // nLayer + 1
  int nLayer = 0;
  int topK = 0;
  std::vector<int> tokens;         // the sequence indices, one column each
  std::vector<float> entropy;      // [nRows, nTok] natural log
  std::vector<int32_t> top1;       // [nRows, nTok]
  std::vector<int32_t> topIds;     // [nRows, nTok, topK]
  std::vector<float> topProbs;     // [nRows, nTok, topK]
  std::vector<int32_t> rank;       // [nRows, nTok] (target >= 0), 0 = top
  std::vector<float> prob;         // [nRows, nTok] (target >= 0)
  std::vector<float> midEntropy;   // [nLayer, nTok] after attention + residual in layer l
  std::vector<int32_t> midTop1;    // [nLayer, nTok]
  std::vector<int32_t> midTopIds;  // [nLayer, nTok, topK] (as topIds, for the mid points)
  std::vector<float> midTopProbs;  // [nLayer, nTok, topK]
  std::vector<float> deltaAttn;    // [nLayer, nTok] H(mid_l) - H(row l)      (attention's effect)
  std::vector<float> deltaMlp;     // [nLayer, nTok] H(row l + 1) - H(mid_l)  (FFN's effect)
  std::vector<int32_t> finalTop1;  // [nTok] the model's own top-1 (trace logits, else last row)
  std::vector<int> earlyExit;      // [nTok] first row whose top-1 equals finalTop1
};

LensResult logitLens(Engine& engine, const Trace& tr, const LensOptions& opt = {});
LensResult logitLens(LensProjector& projector, const Trace& tr, const LensOptions& opt = {});

// §7: output entropy per position from the trace logits.
struct OutputEntropy {
  std::vector<float> entropy;     // [T] natural log
  std::vector<float> normalized;  // [T] H / ln |V|
};
OutputEntropy outputEntropy(const Trace& tr);

struct ForkToken {
  int index = 0;
  float entropy = 0.0f;
  std::vector<int32_t> topIds;  // top-5 alternatives
  std::vector<float> topProbs;
};
// The n highest-entropy positions (ties: lower index first), highest first.
std::vector<ForkToken> forkTokens(const Trace& tr, int n, int topK = 5);

enum class Quadrant { ConfidentAgree, Overconfident, UnsureAgree, UnsureDisagree };
struct TeacherComparison {
  std::vector<float> jsdBits;      // [T] JSD(p_student || p_teacher) / ln 2, in [0, 1]
  std::vector<float> normalized;   // [T] student H / ln |V|
  std::vector<Quadrant> quadrant;  // low/high entropy x low/high divergence
  float entropyThreshold = 0.0f, jsdThreshold = 0.0f;
};
// Both traces must hold logits of every position of the same tokens. Thresholds < 0: the
// medians of the two series.
TeacherComparison compareWithTeacher(const Trace& student, const Trace& teacher,
                                     float entropyThreshold = -1.0f, float jsdThreshold = -1.0f);

}  // namespace ll::rt::ana
