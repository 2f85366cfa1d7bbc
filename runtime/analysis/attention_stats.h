// Attention statistics of ALGORITHMS.md §1: per-head entropy (raw and normalised by its maximum),
// the induction score on [BOS, x, x], head mean/sum maps and one query row.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/analysis/token_selection.h"
#include "runtime/api/trace.h"

namespace ll::rt::ana {

// [nHead, T] entropy per head and query row of one layer (from the trace) and the same divided by
// its maximum, the log of the row's outcomes: log(i + 1) (query 0 has a single key: 0), with i + 1
// capped at the window of a sliding-window layer and one more outcome for an attention sink.
std::vector<float> headEntropy(const Trace& tr, int layer);
std::vector<float> normalizedHeadEntropy(const Trace& tr, int layer);
// Mean over query rows of each head's entropy: [nLayer, nHead].
std::vector<float> meanHeadEntropy(const Trace& tr, bool normalized);

// [BOS, x, x]: x of n random ids in [lo, hi) (a fixed generator, so the score is reproducible).
std::vector<int32_t> inductionPrompt(int32_t bos, int n, int32_t lo, int32_t hi, uint64_t seed = 0);
// Mean attention on the stripe key = query - n + 1 over every query that has one (queries n-1 ..
// 2n on the 2n+1 tokens; TransformerLens' diagonal(offset = 1 - n)). One value per head.
std::vector<float> inductionScores(const AttnRowFn& rows, int T, int nHead, int n);
// [nLayer, nHead] for a trace of an inductionPrompt.
std::vector<float> inductionScores(const Trace& tr, int n);

enum class HeadCombine { Mean, Sum };
// One query row over the keys: head >= 0 one head, else the mean or sum over heads.
std::vector<float> queryRow(const AttnRowFn& rows, int T, int nHead, int query, int head,
                            HeadCombine how = HeadCombine::Mean);

}  // namespace ll::rt::ana
