// Figures from a model run: the attention map, head grid, logit lens, MoE routing and token
// selection views as FigureSpecs (data, token labels, caption with model, prompt hash, layer, head
// and method). Shared by `layerlens-cli figure` and the GUI's File > Export figure.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/analysis/selection_request.h"
#include "runtime/api/request.h"
#include "runtime/api/selection_export.h"
#include "runtime/api/session.h"
#include "visualizers/figure/figure.h"
#include "visualizers/qt/token_label.h"

namespace ll::vis {

struct FigureRequest {
  std::string view = "attention";  // attention | headgrid | lens | routing | selection
  int layer = -1;                  // -1: a sensible default per view (last layer, first MoE layer)
  int head = 0;                    // attention: -1 = mean over heads
  // lens: prob | entropy; selection: gemfilter | snapkv | h2o | promptdistill (empty: default)
  std::string method;
  // view selection: the request (rt::ana::SelectionRequest's defaults, as in the CLI and the GUI);
  // `method` and `layer` above, when set, override its method and layer.
  rt::ana::SelectionRequest selection;
  std::string modelName;  // for the caption (file name)
  std::string prompt;     // for the caption's hash
  // The interventions the trace was run with (named in the caption; the trace already has them).
  rt::Interventions interventions;
  std::optional<rt::TokenSubset> subset;
  Colormap colormap = Colormap::Viridis;
};

// Every figure's caption: "LayerLens · model NAME · prompt sha256:HASH (T tokens) · WHAT" and the
// interventions (rt::describeInterventions) when there are any.
QString figureCaption(const std::string& modelName, const std::string& prompt, int nTokens,
                      const std::string& interventions, const QString& what);

// Throws std::invalid_argument for a bad view, layer, head or method (message names the range).
// The head grid covers the full prompt length: past 4096 cells a side its tiles are mean-pooled.
FigureSpec buildFigure(rt::Session& session, const rt::Trace& trace, const FigureRequest& req);

// The view's raw tensor as .npy (f32): attention [T,T], headgrid [nLayer,nHead,T,T] (written one
// head at a time), lens [nLayer+1, T] (top-1 probability or entropy), routing [T,nExpert],
// selection [T] scores, "residual" [T,nEmbd] (the residual stream after --layer) and "residuals"
// [nLayer,T,nEmbd] (after every layer). Returns the shape written.
std::vector<int64_t> exportViewNpy(rt::Session& session, const rt::Trace& trace,
                                   const FigureRequest& req, const std::string& path);

// One head's [T, T] attention map of the trace (rt::Session::attentionMap, or a server's): what the
// head grid reads besides the trace.
using AttentionMapFn = std::function<std::vector<float>(int layer, int head)>;
// The views that need no session, only the trace and its maps: the headgrid figure, and the
// headgrid, residual and residuals .npy (throws std::invalid_argument for any other view). A model
// on a server exports them with its maps and a trace holding its residual stream.
FigureSpec headGridFigure(const rt::Trace& trace, const FigureRequest& req,
                          const AttentionMapFn& map);
std::vector<int64_t> exportTraceNpy(const rt::Trace& trace, const FigureRequest& req,
                                    const std::string& path, const AttentionMapFn& map);

// The token selection the selection view runs: req.selection with req.method / req.layer applied.
// Throws std::invalid_argument for an unknown method.
rt::ana::SelectionRequest selectionRequestOf(const FigureRequest& req);

// The selection view's result (kept tokens, scores, method and parameters) as an exportable record
// (rt::writeSelectionJson / writeSelectionCsv).
rt::SelectionRecord selectionRecord(rt::Session& session, const rt::Trace& trace,
                                    const FigureRequest& req);

}  // namespace ll::vis
