// `--figure FILE.{png,svg,pdf}` on the analysis commands: the figure the GUI's File > Export
// figure writes for the same result (visualizers/figure/analysis_figures), rendered headless.
// Figures need Qt: in a build without the GUI the option is refused before anything runs.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "runtime/api/request.h"

namespace ll::rt {
class Session;
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

namespace ll::cli::fig {

struct FigureOut {
  std::string path;  // empty: no figure
  double scale = 2.0;
};

// Adds --figure (named `flag`) and, once per command, --figure-scale.
void addFigureOption(CLI::App& sub, FigureOut& f, const char* flag = "--figure",
                     const char* what = "the result");
// Before the analysis runs: a suffix other than .png/.svg/.pdf, a missing folder, a scale outside
// 1-4 or a build without the GUI is an error naming the option.
void checkFigureOut(const FigureOut& f, const char* flag = "--figure");

// What the figure shows beside the result: labels from the session's tokenizer, a caption with the
// model's file name, the prompt's hash and token count, and the interventions.
struct FigureInput {
  const rt::Session* session = nullptr;
  std::vector<int32_t> ids;  // the prompt
  std::string model;         // path; the caption names its file
  std::string prompt;        // text, or "ids:..." (hashed in the caption)
  rt::Interventions interventions;
  int32_t target = -1, other = -1;  // attribution, patching
  std::string wordA, wordB;         // latent language
  std::string teacher;              // teacher comparison: the teacher's path
  std::string corruption;           // patching: how the corrupted run was made
  bool layerSweep = false;          // steering readouts: the layer sweep's figure, not alpha's
  int position = -1;                // flow: the token whose routes are drawn (-1: the last)
};

// The session's prompt, named as the command took it: the text, or "ids:" + the id list.
FigureInput figureInput(const rt::Session& s, const std::string& model, const std::string& text,
                        const std::string& ids);

// The results a figure can be drawn of (pointers: the caller keeps the result).
using FigureResult =
    std::variant<const rt::ana::Attribution*, const rt::ana::LayerSkipResult*,
                 const rt::ana::LatentLanguageResult*, const rt::ana::ExpertContrastResult*,
                 const rt::ana::KnockoutReadout*, const rt::ana::SteeringSweepResult*,
                 const rt::ana::TeacherComparison*, const rt::ana::FlowGraph*,
                 const rt::ana::PatchingResult*>;

// Writes nothing when out.path is empty; throws std::runtime_error when the file cannot be written.
// Prints "wrote PATH" on stderr (stdout stays the command's own output).
void writeFigure(const FigureOut& out, const FigureInput& in, FigureResult result);

}  // namespace ll::cli::fig
