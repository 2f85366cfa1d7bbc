// Figures of the experiment analyses (attribution, layer skip, latent language, expert contrast,
// knockout effect, steering readouts, teacher comparison, flow routes, patching) built from their
// runtime results: one builder per analysis, shared by the GUI's File > Export and the CLI's
// `--figure` so both draw the same figure from the same result.
#pragma once

#include <QString>
#include <QStringList>
#include <cstdint>
#include <string>

#include "visualizers/figure/figure.h"

namespace ll::rt {
class Tokenizer;
}
namespace ll::rt::ana {
struct Attribution;
struct LayerSkipResult;
struct LatentLanguageResult;
struct ExpertContrastResult;
struct KnockoutReadout;
struct SteeringSweepResult;
struct TeacherComparison;
struct FlowGraph;
struct PatchingResult;
}  // namespace ll::rt::ana

namespace ll::vis {

// The text a figure shows beside the result's numbers: the prompt's tokens and the tokens or names
// the analysis was asked about, as the panels show them (vis::tokenLabel of the pieces).
struct AnalysisLabels {
  QStringList tokens;           // one per prompt position
  QString target, other;        // attribution and patching: the tokens the metric names
  QString answer;               // knockout effect: the answer token
  QString wordA, wordB;         // latent language: the two words
  QString teacher;              // teacher comparison: the teacher model's name
  QStringList top1, layerTop1;  // steering readouts: top-1 next token per alpha / per layer
};

// The label of a token id (its piece through vis::tokenLabel; the number without a tokenizer).
QString idLabel(const rt::Tokenizer* tok, int32_t id);

// At most this many tokens (the last ones up to the routes' token) in the flow figure.
inline constexpr int kFlowFigureTokens = 48;

// Each fills everything but the caption (the caller adds model, prompt and interventions).
FigureSpec attributionFigure(const rt::ana::Attribution& a, const AnalysisLabels& l);
FigureSpec layerSkipFigure(const rt::ana::LayerSkipResult& r, const AnalysisLabels& l);
FigureSpec latentFigure(const rt::ana::LatentLanguageResult& r, const AnalysisLabels& l);
FigureSpec contrastFigure(const rt::ana::ExpertContrastResult& r);
FigureSpec knockoutFigure(const rt::ana::KnockoutReadout& r, const AnalysisLabels& l);
// layerSweep: the figure of the layer sweep (throws std::invalid_argument when it was not run).
FigureSpec steerSweepFigure(const rt::ana::SteeringSweepResult& r, bool layerSweep,
                            const AnalysisLabels& l);
FigureSpec teacherFigure(const rt::ana::TeacherComparison& c, const AnalysisLabels& l);
// The routes to `token` (throws std::invalid_argument when it is out of range).
FigureSpec flowFigure(const rt::ana::FlowGraph& g, int token, const AnalysisLabels& l);
FigureSpec patchingFigure(const rt::ana::PatchingResult& r, const AnalysisLabels& l);

// What the captions say of a result (the analysis part; the caller adds model and prompt).
QString attributionCaption(const rt::ana::Attribution& a);
QString steerSweepCaption(const rt::ana::SteeringSweepResult& r);
// corruption: how the corrupted run was made ("corrupted prompt \"...\"", "noise on tokens 2-4").
QString patchingCaption(const rt::ana::PatchingResult& r, const AnalysisLabels& l,
                        const QString& corruption);
// The whole caption of a contrast figure: it is of two prompt sets, not of one prompt, so it names
// the model and each set's hash (rt::promptHash of its prompts joined by newlines) and size.
QString contrastCaption(const std::string& modelName, const rt::ana::ExpertContrastResult& r);
QString flowCaption(const rt::ana::FlowGraph& g, int token);
QString latentCaption(const rt::ana::LatentLanguageResult& r);

}  // namespace ll::vis
