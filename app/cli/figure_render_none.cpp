// --figure in a build without the GUI: refused by checkFigureOut before anything runs.
#include <stdexcept>

#include "figure_out.h"

namespace ll::cli::fig {

bool figuresBuilt() {
  return false;
}

void writeFigure(const FigureOut& out, const FigureInput&, FigureResult) {
  if (!out.path.empty())
    throw std::invalid_argument("--figure: figures need a build with the GUI (LAYERLENS_GUI=ON)");
}

}  // namespace ll::cli::fig
