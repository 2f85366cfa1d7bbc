// Where an analysis is limited by an architecture feature of the model, as plain sentences the CLI
// prints under "warnings" and the GUI shows beside the result. Today that is the sliding window
// (Gemma 2/3, Phi-3, gpt-oss): a query at a windowed layer sees only the last `window` keys.
#pragma once

#include <string>
#include <vector>

namespace ll::rt {
struct ModelSpec;
}

namespace ll::rt::ana {

enum class SelectionMethod { GemFilter, SnapKv, H2O, PromptDistill };
const char* selectionMethodName(SelectionMethod m);

// "layers 0, 2, 4 (window 8)", "layers 0, 2, 4, ..., 24 (13 layers, window 8)"; "" when the model
// has no sliding-window layer.
std::string windowedLayersText(const ModelSpec& spec);

// Token selection at `layer` on a T-token prompt. GemFilter and PromptDistill rank every key by
// the last query's q.k; SnapKV by the attention of its observation window (the last obsWindow
// queries). At a sliding-window layer with keys older than the window those queries cannot see
// them: GemFilter / PromptDistill rank them by products the model never computes there, SnapKV
// scores them 0. Empty when the selection is not limited (full-attention layer, or the prompt
// fits the window). H2O sums every row's attention (each within its own window): no note.
std::vector<std::string> selectionWarnings(const ModelSpec& spec, SelectionMethod method, int layer,
                                           int nTokens, int obsWindow = 1);

// A run of the prompt tokens `indices` (ascending): keepPositions true as RunRequest::subset with
// the original position ids, false re-indexed 0..n-1 (GemFilter's compressed prompt). The engine's
// sliding window counts cache indices, i.e. kept tokens, not original positions (llama.cpp counts
// positions): one sentence when that lets some query see a kept token more than `window`
// original positions back. Empty without windowed layers or when the two agree.
std::vector<std::string> subsetWarnings(const ModelSpec& spec, const std::vector<int>& indices,
                                        bool keepPositions);

// Attention knockout of the edges from queries `from` to keys `to` (sequence indices) in layers
// [layerBegin, layerEnd): at a sliding-window layer an edge to a key `window` or more tokens back
// is hidden already, so blocking it changes nothing there. One sentence with the count when the
// range has such layers and edges; empty otherwise.
std::vector<std::string> knockoutWarnings(const ModelSpec& spec, const std::vector<int>& from,
                                          const std::vector<int>& to, int layerBegin, int layerEnd);

// Induction scores on [BOS, x, x] with |x| = n: the stripe lies n - 1 tokens back, so a
// sliding-window layer with window < n cannot attend it and scores 0 by construction. One
// sentence naming those layers, empty when every layer sees the stripe.
std::vector<std::string> inductionWarnings(const ModelSpec& spec, int n);
// True when layer `layer` cannot see the induction stripe of length n.
bool inductionHidden(const ModelSpec& spec, int layer, int n);

}  // namespace ll::rt::ana
