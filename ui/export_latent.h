// Data export of the Latent language panel's result (its figure is vis::latentFigure): .json =
// `layerlens-cli latent`'s document, .npy = the [2, nLayer + 1] probability mass (rows w_A, w_B).
#pragma once

#include <QString>

#include "ui/view_state.h"

namespace ll::ui {

// .json or .npy by the path's suffix; throws std::invalid_argument / std::runtime_error.
void writeLatentData(const Snapshot& s, const QString& path);

}  // namespace ll::ui
