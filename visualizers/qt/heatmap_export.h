// Heatmap figures without a window: renders through the raw offscreen Vulkan path (its own
// VkInstance, no surface) and returns a QImage or writes a PNG. Used by "Export" actions.
#pragma once

#include "visualizers/heatmap_types.h"

#include <QImage>
#include <QSize>
#include <QString>

namespace ll::vis {

// view: null fits the whole matrix into size. Returns a null image and sets *error on failure
// (no Vulkan device, allocation failure).
QImage renderHeatmapImage(const HeatmapMatrix& matrix, const HeatmapStyle& style, QSize size,
                          const HeatmapView* view = nullptr, QString* error = nullptr);

// Pixel size for exporting a whole rows x cols map: about pixelsPerCell per cell, clamped to
// [256, 4096] per side (large maps are drawn through the LOD pyramid).
QSize exportSizeFor(int rows, int cols, int pixelsPerCell = 8);

bool exportHeatmapPng(const HeatmapMatrix& matrix, const HeatmapStyle& style, const QString& path,
                      QString* error = nullptr);

}  // namespace ll::vis
