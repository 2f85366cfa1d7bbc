#include "runtime/analysis/method_limits.h"

#include <algorithm>

#include "runtime/model/model_spec.h"

namespace ll::rt::ana {

const char* selectionMethodName(SelectionMethod m) {
  switch (m) {
    case SelectionMethod::GemFilter:
      return "GemFilter";
    case SelectionMethod::SnapKv:
      return "SnapKV";
    case SelectionMethod::H2O:
      return "H2O";
    case SelectionMethod::PromptDistill:
      return "PromptDistill";
  }
  return "?";
}

std::string windowedLayersText(const ModelSpec& spec) {
  std::vector<int> ls;
  for (int l = 0; l < spec.nLayer; ++l)
    if (spec.layerWindow(l) > 0) ls.push_back(l);
  if (ls.empty()) return {};
  std::string t = ls.size() == 1 ? "layer " : "layers ";
  // Long lists (Gemma 2: every even layer of 26+) show their start and end.
  const size_t n = ls.size();
  for (size_t i = 0; i < n; ++i) {
    if (n > 8 && i == 3) {
      t += ", ..., " + std::to_string(ls.back());
      break;
    }
    t += (i ? ", " : "") + std::to_string(ls[i]);
  }
  return t + " (" + (n > 8 ? std::to_string(n) + " layers, " : std::string()) + "window " +
         std::to_string(spec.window) + ")";
}

std::vector<std::string> selectionWarnings(const ModelSpec& spec, SelectionMethod method, int layer,
                                           int nTokens, int obsWindow) {
  const int W = spec.layerWindow(layer), T = nTokens;
  if (W <= 0 || T <= W || method == SelectionMethod::H2O) return {};
  const std::string head =
      std::string(selectionMethodName(method)) +
      (method == SelectionMethod::PromptDistill ? " stage at layer " : " at layer ") +
      std::to_string(layer) + " (a sliding-window layer, window " + std::to_string(W) + "): ";
  if (method == SelectionMethod::SnapKv) {
    const int w = std::clamp(obsWindow, 1, T);
    const int firstSeen = std::max(0, T - w - W + 1);  // first key the window's first query sees
    if (firstSeen == 0) return {};
    return {head + "its observation window's queries (tokens " + std::to_string(T - w) + ".." +
            std::to_string(T - 1) + ") cannot see keys older than the window, so the " +
            std::to_string(firstSeen) + " tokens before token " + std::to_string(firstSeen) +
            " score 0 before pooling: they are kept only by pooling or to fill the capacity"};
  }
  const int first = T - W;  // the last query sees tokens first..T-1
  return {head + "the last query (token " + std::to_string(T - 1) +
          ") cannot see keys older than the window (it sees tokens " + std::to_string(first) +
          ".." + std::to_string(T - 1) + "), so the " + std::to_string(first) +
          " older tokens are ranked by q.k products the model never computes at this layer"};
}

std::vector<std::string> subsetWarnings(const ModelSpec& spec, const std::vector<int>& indices,
                                        bool keepPositions) {
  const std::string layers = windowedLayersText(spec);
  const int W = spec.window;
  if (layers.empty() || W <= 0) return {};
  // The engine lets the query at cache index q see cache indices q-W+1..q; by original positions
  // (llama.cpp) it would see only kept tokens less than W positions back. Positions increase, so
  // the engine sees a superset; report the first query whose oldest visible key differs.
  const int n = static_cast<int>(indices.size());
  for (int q = 0; q < n; ++q) {
    const int j = std::max(0, q - W + 1);
    if (indices[q] - indices[j] < W) continue;
    const std::string at = "the kept token from position " + std::to_string(indices[q]) +
                           " sees kept tokens back to position " + std::to_string(indices[j]) +
                           ", by position only those from " + std::to_string(indices[q] - W + 1) +
                           " on";
    if (keepPositions)
      return {"token subset on a model with sliding-window " + layers +
              ": the engine's window counts the kept tokens' cache indices, not their original "
              "positions (llama.cpp counts positions): " +
              at};
    return {"compressed prompt (kept tokens re-indexed) on a model with sliding-window " + layers +
            ": the window counts kept tokens, not their original positions (llama.cpp given the "
            "original positions would count those): " +
            at};
  }
  return {};
}

std::vector<std::string> knockoutWarnings(const ModelSpec& spec, const std::vector<int>& from,
                                          const std::vector<int>& to, int layerBegin,
                                          int layerEnd) {
  std::vector<int> layers;
  for (int l = std::max(0, layerBegin); l < std::min(layerEnd, spec.nLayer); ++l)
    if (spec.layerWindow(l) > 0) layers.push_back(l);
  if (layers.empty()) return {};
  // Edges a query could see by causality alone (a query's own key is never blocked).
  long edges = 0, hidden = 0;
  for (int q : from)
    for (int k : to)
      if (k < q) {
        ++edges;
        hidden += q - k >= spec.window;
      }
  if (hidden == 0) return {};
  std::string ls;
  for (size_t i = 0; i < layers.size(); ++i) ls += (i ? ", " : "") + std::to_string(layers[i]);
  return {"knockout: at the sliding-window layer" + std::string(layers.size() > 1 ? "s " : " ") +
          ls + " (window " + std::to_string(spec.window) + ") " +
          (hidden == edges
               ? "every one of the " + std::to_string(edges) + " blocked query-key edges lies"
               : std::to_string(hidden) + " of the " + std::to_string(edges) +
                     " blocked query-key edges lie") +
          " outside the window already; blocking those changes nothing there"};
}

bool inductionHidden(const ModelSpec& spec, int layer, int n) {
  const int W = spec.layerWindow(layer);
  return W > 0 && n > W;
}

std::vector<std::string> inductionWarnings(const ModelSpec& spec, int n) {
  std::vector<int> hidden;
  for (int l = 0; l < spec.nLayer; ++l)
    if (inductionHidden(spec, l, n)) hidden.push_back(l);
  if (hidden.empty()) return {};
  return {"induction score with n = " + std::to_string(n) + ": the stripe lies " +
          std::to_string(n - 1) + " tokens back, outside the window of the sliding-window " +
          windowedLayersText(spec) + "; those layers cannot attend it and score 0 (n <= " +
          std::to_string(spec.window) + " avoids this)"};
}

}  // namespace ll::rt::ana
