// The --figure option's parsing and checks (see figure_out.h); the drawing is figure_render.cpp
// (GUI builds) or figure_render_none.cpp.
#include "figure_out.h"

#include "runtime/api/session.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

namespace ll::cli::fig {

// Defined by figure_render.cpp / figure_render_none.cpp.
bool figuresBuilt();

void addFigureOption(CLI::App& sub, FigureOut& f, const char* flag, const char* what) {
  sub.add_option(flag, f.path,
                 std::string("also write a figure of ") + what +
                     " (.png, .svg or .pdf; the GUI's File > Export figure)");
  if (!sub.get_option_no_throw("--figure-scale"))
    sub.add_option("--figure-scale", f.scale, "PNG scale of the figures, 1-4")
        ->capture_default_str();
}

void checkFigureOut(const FigureOut& f, const char* flag) {
  if (f.path.empty()) return;
  const std::string at = std::string(flag) + " " + f.path + ": ";
  if (!figuresBuilt())
    throw std::invalid_argument(at +
                                "figures need a build with the GUI (LAYERLENS_GUI=ON): they "
                                "render through Qt");
  namespace fs = std::filesystem;
  std::string ext = fs::path(f.path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (ext != ".png" && ext != ".svg" && ext != ".pdf")
    throw std::invalid_argument(at + "use .png, .svg or .pdf");
  const fs::path dir = fs::absolute(fs::path(f.path)).parent_path();
  if (!fs::is_directory(dir)) throw std::invalid_argument(at + "no folder " + dir.string());
  if (!(f.scale >= 1.0 && f.scale <= 4.0))
    throw std::invalid_argument("--figure-scale must be in 1-4");
}

FigureInput figureInput(const rt::Session& s, const std::string& model, const std::string& text,
                        const std::string& ids) {
  FigureInput in;
  in.session = &s;
  in.ids = s.promptIds();
  in.model = model;
  in.prompt = ids.empty() ? text : "ids:" + ids;
  return in;
}

}  // namespace ll::cli::fig
