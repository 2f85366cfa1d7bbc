// Light and dark themes (View menu): the Fusion style with a matching palette, applied to the
// whole application and remembered in QSettings, plus the colours the palette does not reach
// (QCustomPlot plots and the Vulkan heatmaps paint their own).
#pragma once

#include <QColor>
#include <QString>

class QCPColorGradient;
class QCustomPlot;
class QCPColorGradient;
class QCPColorScale;
class QObject;

namespace ll::vis {
struct HeatmapStyle;
}

namespace ll::ui {

enum class Theme { Light, Dark };

// Roles of the curves in plots: a graph given one (setPlotSeries: QObject property "llSeries")
// is recoloured by a theme change; other plottables keep their colours.
enum class PlotSeries { Primary = 0, Secondary = 1, Tertiary = 2 };

struct ThemeColors {
  QColor plotBackground;
  QColor axis;                // axis base line and ticks
  QColor text;                // tick labels and axis labels
  QColor grid;                // major grid lines
  QColor series[3];           // graph pens by PlotSeries, each readable on plotBackground
  QColor heatmapBackground;   // no data around / between the heatmap cells
  QColor heatmapMask;         // causal / sliding-window masked cells
  QColor marker, markerHalo;  // selection lines on heatmaps and the halo beside them
};

const ThemeColors& themeColors(Theme theme);
// The theme applyTheme last applied (Light before any).
Theme currentTheme();

void applyTheme(Theme theme);
Theme savedTheme();
void saveTheme(Theme theme);

// Mask, background and marker colours of a heatmap style for a theme.
void applyHeatmapTheme(vis::HeatmapStyle& style, Theme theme);
// Background, axes, tick labels, grid and graph pens (by their PlotSeries) of a plot; replots.
void applyPlotTheme(QCustomPlot* plot, Theme theme);
// The pen colour of a series in a theme (for graphs whose pen is rebuilt on new data).
QColor seriesColor(PlotSeries series, Theme theme);
void setPlotSeries(QObject* graph, PlotSeries series);
// The heatmaps' diverging colormap (blue - white - red) as a QCustomPlot gradient, every LUT entry
// a stop so 0 keeps the light centre (colour maps of signed values: attribution, expert contrast).
QCPColorGradient divergingGradient();
// A colour scale's axis (line, ticks, labels) in the theme's colours.
void applyColorScaleTheme(QCPColorScale* scale, Theme theme);

}  // namespace ll::ui
