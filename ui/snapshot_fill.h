// The parts of a Snapshot that local and remote analysis sources (AnalysisJob, RemoteAnalysisJob)
// compute alike from a trace: one implementation, so a remote snapshot equals a local one bit for
// bit. Where the data comes from (an attention map, a selection run) is passed in.
#pragma once

#include "runtime/analysis/lens.h"
#include "runtime/analysis/selection_request.h"
#include "runtime/api/request.h"
#include "runtime/api/trace.h"
#include "runtime/model/model_spec.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/head_grid_rows.h"
#include "ui/view_state.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ll::ui {

inline constexpr int kGridTokens = 96;  // head grid: at most the last 96 tokens

// The last attention map and what it was computed from: its rows are kept while the prefix is.
struct AttentionMapCache {
  std::shared_ptr<const rt::Trace> trace;
  rt::Interventions iv;
  int layer = -1, head = -3;  // head as in the view state (-2 sum, -1 mean)
  std::shared_ptr<const vis::HeatmapMatrix> map;
};

// [T, T] map of a layer and head (-1: mean) of the trace, rows before rowBegin left 0
// (rt::Session::attentionMap or its remote call).
using AttentionMapFn = std::function<std::vector<float>(int layer, int head, int rowBegin)>;
using PieceFn = std::function<std::string(int32_t)>;

// s.trace and what the panels index by: the tokens' labels and their spans in the typed prompt
// (enc: the run text's encoding; userOffset: where the typed prompt starts in it), and the
// selected layer, head and token clamped to the trace.
void fillPromptView(Snapshot& s, const std::shared_ptr<const rt::Trace>& trace,
                    const rt::Encoding& enc, int userOffset);
// s.attention and s.queryRow of the selected layer / head (s.layer, s.head, s.token resolved),
// keeping the cached rows of the shared prefix; the cache then holds this map.
void fillAttention(Snapshot& s, const std::shared_ptr<const rt::Trace>& trace,
                   const rt::Interventions& iv, AttentionMapCache& cache,
                   const AttentionMapFn& attentionMap);
// The logit lens of the trace for the options (rt::ana::logitLens or its remote call).
using LensFn = std::function<rt::ana::LensResult(const rt::ana::LensOptions&)>;
// s.lensEntropy / s.lensRank of the selected token (s.token) and the followed token (rankTarget,
// or the model's top-1 there).
void fillTokenLens(Snapshot& s, const rt::Trace& tr, int32_t rankTarget, const LensFn& lens,
                   const PieceFn& piece);
// The output entropy [T] of the trace's logits: rows the engine reused keep the values of the
// previous run's (an [T, V] pass is a large part of a keystroke on a 32k vocabulary).
void updateOutputEntropy(std::vector<float>& entropy, const rt::Trace& tr);
// s.knockoutWarning: knocked-out edges that a sliding window hides already.
void fillKnockoutWarning(Snapshot& s, const rt::ModelSpec& spec, const ViewState& st, int T);
// s.topNext: the top-k next tokens after the last prompt token (the trace's logits).
void fillTopNext(Snapshot& s, const rt::Trace& tr, int topK, const PieceFn& piece);
// s.routing, s.load, s.routingWarning of a MoE trace (router parts).
void fillRouting(Snapshot& s, const rt::Trace& tr, const std::vector<rt::RouterEdit>& edits);
// s.headGrid on the last G tokens (queries and keys), reusing the cache's rows; updates the cache.
void fillHeadGrid(Snapshot& s, const std::shared_ptr<const rt::Trace>& trace,
                  const rt::Interventions& iv, HeadGridCache& cache);
// Token selection of s.state.selection at s.layer: the kept set, scores, parameters, warnings and
// the overlap table. run runs one request on the snapshot's trace.
using SelectionRunFn = std::function<rt::ana::SelectionOutcome(const rt::ana::SelectionRequest&)>;
void fillSelection(Snapshot& s, const SelectionRunFn& run);

}  // namespace ll::ui
