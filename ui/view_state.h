// Plain values exchanged between the UI thread and the SessionController's worker: what the panels
// ask for (ViewState), what a loaded model looks like (ModelInfo) and the immutable results
// (Snapshot) every panel draws from. Snapshots are handed out as shared_ptr<const Snapshot>; they
// also carry everything an exporter needs to redraw a panel's figure.
#pragma once

#include "runtime/analysis/expert_contrast.h"
#include "runtime/analysis/flow_routes.h"
#include "runtime/analysis/knockout.h"
#include "runtime/analysis/latent_language.h"
#include "runtime/analysis/layer_skip.h"
#include "runtime/analysis/patching.h"
#include "runtime/analysis/selection_request.h"
#include "runtime/analysis/steering_sweep.h"
#include "runtime/api/request.h"
#include "runtime/api/trace.h"
#include "ui/lens_grid.h"
#include "visualizers/heatmap_types.h"

#include <QMetaType>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ll::rt::ana {
struct Attribution;
struct TeacherComparison;
}  // namespace ll::rt::ana

namespace ll::ui {

using SelectMethod = rt::ana::SelectionMethod;
QString methodName(SelectMethod m);

// The Token selection panel's settings: the request the CLI and the figures run too, with its
// defaults (runtime/analysis/selection_request.h), plus the answer's length. layer -1 (kAuto)
// here follows the window's selected layer (the panel's "follow selected layer").
struct SelectionSettings : rt::ana::SelectionRequest {
  int answerTokens = 12;
  bool operator==(const SelectionSettings&) const = default;
};
// The request the worker runs: layer -1 becomes selectedLayer (kAuto: the request's own rule).
rt::ana::SelectionRequest selectionRequest(const SelectionSettings& settings, int selectedLayer);

// Saved: a vector restored from a session file (interventions.steering), used as is.
enum class SteerSource { Concept, Contrastive, Saved };
struct SteeringSettings {
  bool enabled = false;
  SteerSource source = SteerSource::Concept;
  std::string conceptWord;             // concept word
  std::vector<std::string> baselines;  // baseline words
  std::vector<std::string> positive;   // contrastive prompt lists
  std::vector<std::string> negative;
  std::vector<float> savedVector;  // SteerSource::Saved
  int layer = -1;                  // -1: floor(0.7 L)
  float alpha = 4.0f;
  int fromPos = 0;
  int genTokens = 16;
  bool operator==(const SteeringSettings&) const = default;
};

// The Attribution panel's request (ALGORITHMS.md §13): token text or id of a (empty: the model's
// top-1 at the selected token) and of an optional b subtracted; the position is the selected token.
struct AttributionSettings {
  std::string target;
  std::string other;
  // False while the panel is out of view: the worker skips the attribution (it recomputes the
  // values of every layer), and the panel asks again when it comes into view. Not saved.
  bool enabled = true;
  bool operator==(const AttributionSettings&) const = default;
};

// The Layer skip panel (ALGORITHMS.md §15): off by default, since it costs one extra forward
// pass per layer whenever the prompt or interventions change.
struct LayerSkipSettings {
  bool enabled = false;
  rt::SkipPart part = rt::SkipPart::Layer;
  bool operator==(const LayerSkipSettings&) const = default;
};

// The Latent language panel (ALGORITHMS.md §16): the two answer words; nothing is computed while
// either is empty.
struct LatentLanguageSettings {
  std::string wordA, wordB;
  bool operator==(const LatentLanguageSettings&) const = default;
};

// The Expert contrast panel (ALGORITHMS.md §9) asks for rt::ana::ExpertContrastRequest: the prompt
// sets as its Compute button committed them, τ, the layers and the promotion settings. Nothing
// runs while either set has no prompt.
bool contrastWanted(const rt::ana::ExpertContrastRequest& request);
// The Steering readouts panel (ALGORITHMS.md §8): the alpha sweep and the layer sweep of the
// Steering panel's vector at the selected token. Off by default: about nLayer + 12 extra passes
// whenever the prompt, the vector, the layer, alpha or the token change.
struct SteeringReadoutSettings {
  bool enabled = false;
  bool layerSweep = true;
  bool operator==(const SteeringReadoutSettings&) const = default;
};

// The Teacher panel (ALGORITHMS.md §7): a second model on the same vocabulary, run over the
// prompt's tokens; empty: none.
struct TeacherSettings {
  std::string model;  // file or folder
  bool operator==(const TeacherSettings&) const = default;
};

// The Flow routes panel (ALGORITHMS.md §14): off by default, since the graph costs about a
// prefill on long prompts; the threshold is rt::ana::FlowRequest's.
struct FlowSettings {
  bool enabled = false;
  double threshold = rt::ana::FlowRequest{}.threshold;
  bool operator==(const FlowSettings&) const = default;
};

// The Patching panel (ALGORITHMS.md §12): clean = the prompt; corrupted = a second prompt of the
// same token count, or noise on the prompt's tokens [noiseBegin, noiseEnd). Off by default: it
// costs one pass per layer and position (and per head) whenever the prompt or settings change.
// Target / other: token id or text; empty: the defaults of §12.
struct PatchingSettings {
  bool enabled = false;
  bool noise = false;
  std::string corrupt;
  int noiseBegin = 0, noiseEnd = 1;
  std::string target, other;
  rt::ana::PatchComponent component = rt::ana::PatchComponent::Resid;
  rt::ana::PatchMetric metric = rt::ana::PatchMetric::LogitDiff;
  rt::ana::PatchDirection direction = rt::ana::PatchDirection::Denoise;
  bool operator==(const PatchingSettings&) const = default;
};

// Everything one recomputation depends on.
struct ViewState {
  std::string prompt;
  bool chatTemplate = false;
  int layer = 0;
  int head = -1;            // -1 mean over heads, -2 sum
  int token = -1;           // -1 last
  int32_t rankTarget = -1;  // token id followed across layers (-1: the model's own top-1)
  std::vector<rt::RouterEdit> routerEdits;
  std::optional<rt::Knockout> knockout;  // attention knockout (AttentionPanel)
  SelectionSettings selection;
  SteeringSettings steering;
  LensGridSettings lensGrid;  // the Logit lens panel (and the "lens" export)
  AttributionSettings attribution;
  LayerSkipSettings layerSkip;
  LatentLanguageSettings latent;
  rt::ana::ExpertContrastRequest contrast;
  // The Knockout effect panel (§10 readout of `knockout`): sweep off by default (nLayer passes).
  rt::ana::KnockoutReadoutRequest knockoutReadout;
  SteeringReadoutSettings steerRead;
  TeacherSettings teacher;
  FlowSettings flow;
  PatchingSettings patching;
  int outputTokens = 16;
  int topK = 10;
  bool operator==(const ViewState&) const = default;
};

// The prompt run's interventions as the panels set them (router edits, knockout); steering and the
// experiments' own edits are added by the stages that run them.
inline rt::Interventions panelInterventions(const ViewState& st) {
  rt::Interventions iv;
  iv.router = st.routerEdits;
  iv.knockout = st.knockout;
  return iv;
}

struct ModelInfo {
  QString path;
  QString name;
  QString format;
  QString arch;
  int nLayer = 0, nEmbd = 0, nHead = 0, nHeadKv = 0, headDim = 0, nFf = 0, nCtx = 0, nVocab = 0;
  int nExpert = 0, nExpertUsed = 0, nFfExpert = 0;
  quint64 fileBytes = 0;
  QString quantization;  // "F32 x48, Q4_K x13"
  QString chatFormat;    // detected template family, "" when none / unknown
  bool hasTemplate = false;
  QString backend;
  // "HOST:PORT" when the model runs on a `layerlens-cli serve` server (path is then its path
  // there, relative to the server's --models folder); "" for a model in this process.
  QString server;
  std::vector<float> induction;  // [nLayer, nHead] on a repeated random sequence; NaN: undefined
  int inductionN = 0;
  QString inductionNote;      // why some layers have no induction score (sliding window)
  QString attentionFeatures;  // "sliding window 8 on layers 0, 2; soft-cap 50; sinks" or ""
};

// Generation-based outputs and the layer-skip passes, streamed after the analysis panels' snapshot
// in this order.
enum class StreamedOutput {
  None,
  Continuation,
  Answers,
  Steering,
  LayerSkip,
  ExpertContrast,
  KnockoutEffect,
  SteeringReadouts,
  Teacher,
  Flow,
  Patching
};
QString outputName(StreamedOutput o);

struct Snapshot {
  uint64_t generation = 0;
  // The analysis panels' snapshot comes first (streamed None); each generation-based output then
  // arrives as a copy with that output filled in (streamed names it, has* turns on); the last one
  // has complete = true.
  bool complete = false;
  StreamedOutput streamed = StreamedOutput::None;
  bool hasContinuation = false, hasAnswers = false, hasSteering = false;
  ViewState state;
  std::shared_ptr<const rt::Trace> trace;
  std::string runText;  // text that was tokenized (the chat template applied)
  int userOffset = 0;   // byte offset of the user's prompt inside runText
  QStringList tokens;   // display text per token
  std::vector<std::pair<int, int>> charSpans;  // [begin, end) in the prompt QString, -1: none
  int nTokens = 0, nLayer = 0, nHead = 0, nExpert = 0;
  int layer = 0, head = -1, token = 0;  // resolved selection

  // Attention
  std::shared_ptr<const vis::HeatmapMatrix> attention;  // [T, T] selected layer / head
  std::vector<float> queryRow;                          // [T] row of the selected token
  std::vector<float> headGrid;  // [L, H, G, G] on the last G tokens (G <= kGridTokens)
  int gridTokens = 0;
  QString knockoutWarning;  // knocked-out edges a sliding window hides already (or "")

  // Entropy
  std::vector<float> lensEntropy;  // [L + 1] rows for the selected token
  std::vector<int32_t> lensRank;   // [L + 1] rank of rankToken
  int32_t rankToken = -1;
  QString rankTokenText;
  std::vector<float> outputEntropy;  // [T] nats
  // Logit-lens grid (state.lensGrid): layers x a window of token columns; never null once a
  // prompt has run.
  std::shared_ptr<const LensGrid> lensGrid;

  // Output
  std::vector<std::pair<QString, float>> topNext;  // after the last token
  QString continuation;

  // Routing: [L, T, E] routing probabilities (dense layers 0), load [L, E]
  std::vector<float> routing;
  std::vector<float> load;
  QString routingWarning;

  // Token selection
  std::vector<int> kept;
  std::vector<float> scores;  // [T] per-position score (0 where the method gives none)
  std::vector<std::pair<QString, double>> overlap;  // "GemFilter / SnapKV" -> Jaccard
  // PromptDistill: the survivors of each stage and the stages' layers (the continuation's masks).
  std::vector<std::vector<int>> keptPerStage;
  std::vector<int> stageLayers;
  QString answerFull, answerKept;
  QString selectionError;
  int selectionK = 0;       // the k the methods ran with (the settings' k clamped to 1..T)
  QString selectionReason;  // why the method keeps more than k (selection_reasons.h), or ""
  // The parameters it ran with (rt::ana::SelectionParams::record: window, recent, kernel, ...).
  std::map<std::string, std::string> selectionParams;
  // Where the method is limited by the model (rt::ana method_limits.h): selecting at a
  // sliding-window layer, the kept tokens' answer on a model with sliding-window layers.
  QStringList selectionWarnings;

  // Steering
  double pushRatio = 0.0;
  int steerLayer = 0;
  QString steered, unsteered;
  QString steeringError;

  // Direct logit attribution at the selected token (state.attribution), under the run's
  // interventions; null with attributionError set when the request cannot be served.
  std::shared_ptr<const rt::ana::Attribution> attribution;
  QString attributionTargetText, attributionOtherText;  // display text of a and b ("" without b)
  QString attributionError;
  // Layer skip (state.layerSkip enabled), read at the selected token: streamed last (its passes
  // never delay the other panels); already in the panels' snapshot when only the token changed.
  // Null when off or not computed yet.
  std::shared_ptr<const rt::ana::LayerSkipResult> layerSkip;
  QString layerSkipError;
  // Latent-language plot (state.latent, both words given) at the last token; null otherwise or
  // with latentError set when a word cannot be read.
  std::shared_ptr<const rt::ana::LatentLanguageResult> latent;
  QStringList latentTokensA, latentTokensB;  // display text of the words' counted tokens
  QString latentError;
  // Expert contrast (state.contrast wanted): its passes are streamed last; already in the panels'
  // snapshot when only τ, the layers or the promotion settings changed. Null when not asked for
  // or not computed yet (contrastError set when it cannot be).
  std::shared_ptr<const rt::ana::ExpertContrastResult> contrast;
  QString contrastError;
  // The knockout's effect on the first answer token (state.knockout set), and the layer sweep with
  // state.knockoutReadout.sweep: streamed last; null otherwise (knockoutEffectError when it
  // cannot be computed).
  std::shared_ptr<const rt::ana::KnockoutReadout> knockoutEffect;
  QString knockoutAnswerText;  // display text of the answer token
  QString knockoutEffectError;
  // Steering readouts (state.steerRead enabled) at the selected token: streamed last; already in
  // the panels' snapshot when nothing it depends on changed. Null when off or not computed yet.
  std::shared_ptr<const rt::ana::SteeringSweepResult> steerSweep;
  QString steerSweepBaseTop1;                       // display text of the unsteered top-1
  QStringList steerSweepTop1, steerSweepLayerTop1;  // of the alpha and layer sweeps' top-1
  QString steerSweepError;
  // Student (this trace) vs teacher (state.teacher) per token: streamed last; already in the
  // panels' snapshot when neither the trace nor the teacher changed. Null when none or not yet.
  std::shared_ptr<const rt::ana::TeacherComparison> teacher;
  QString teacherName;  // the teacher's file name
  QString teacherError;
  // Information-flow graph of the whole prompt (state.flow enabled): streamed last, already in the
  // panels' snapshot when only the selection changed (the panel walks the routes to the selected
  // token itself). Null when off or not computed yet, or with flowError set.
  std::shared_ptr<const rt::ana::FlowGraph> flow;
  QString flowError;
  // Activation patching (state.patching enabled) of the prompt against the corrupted one, under
  // the run's interventions: streamed last; already in the panels' snapshot when cached (same
  // trace and settings). Null when off or not computed yet (patchingError says why, if it failed).
  std::shared_ptr<const rt::ana::PatchingResult> patching;
  QString patchingError;
  QString patchingTargetText, patchingOtherText;  // display text of the tokens a and b

  double computeMs = 0.0;
  std::vector<std::pair<QString, double>> stageMs;  // worker time per stage (benchmarks)
  int reusedRows = 0;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace ll::ui

Q_DECLARE_METATYPE(ll::ui::SnapshotPtr)
