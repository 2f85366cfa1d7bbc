#include "ui/theme.h"

#include "visualizers/colormap.h"
#include "visualizers/heatmap_types.h"

#include <qcustomplot.h>
#include <QApplication>
#include <QPalette>
#include <QSettings>
#include <QStyle>
#include <QStyleFactory>

namespace ll::ui {
namespace {

Theme g_current = Theme::Light;

ThemeColors makeColors(Theme theme) {
  ThemeColors c;
  if (theme == Theme::Dark) {
    // Pens and text well above 4.5:1 against the plot background (30, 30, 32).
    c.plotBackground = QColor(30, 30, 32);
    c.axis = QColor(170, 170, 175);
    c.text = QColor(220, 220, 220);
    c.grid = QColor(62, 62, 68);
    c.series[0] = QColor(110, 170, 255);
    c.series[1] = QColor(255, 135, 100);
    c.series[2] = QColor(200, 150, 255);
    c.heatmapBackground = QColor(31, 31, 33);
    c.heatmapMask = QColor(58, 58, 64);  // dark, yet apart from the background and viridis' low end
    c.marker = QColor(255, 255, 255);
    c.markerHalo = QColor(0, 0, 0);
  } else {
    c.plotBackground = QColor(255, 255, 255);
    c.axis = QColor(60, 60, 60);
    c.text = QColor(30, 30, 30);
    c.grid = QColor(220, 220, 220);
    c.series[0] = QColor(59, 82, 139);
    c.series[1] = QColor(180, 60, 40);
    c.series[2] = QColor(68, 1, 84);
    c.heatmapBackground = QColor(240, 240, 240);
    c.heatmapMask = QColor(199, 199, 204);
    c.marker = QColor(0, 0, 0);
    c.markerHalo = QColor(255, 255, 255);
  }
  return c;
}

void toRgb(const QColor& c, float out[3]) {
  out[0] = static_cast<float>(c.redF());
  out[1] = static_cast<float>(c.greenF());
  out[2] = static_cast<float>(c.blueF());
}

}  // namespace

const ThemeColors& themeColors(Theme theme) {
  static const ThemeColors light = makeColors(Theme::Light);
  static const ThemeColors dark = makeColors(Theme::Dark);
  return theme == Theme::Dark ? dark : light;
}

Theme currentTheme() {
  return g_current;
}

QColor seriesColor(PlotSeries series, Theme theme) {
  return themeColors(theme).series[static_cast<int>(series)];
}

void setPlotSeries(QObject* graph, PlotSeries series) {
  graph->setProperty("llSeries", static_cast<int>(series));
}

void applyHeatmapTheme(vis::HeatmapStyle& style, Theme theme) {
  const ThemeColors& c = themeColors(theme);
  toRgb(c.heatmapBackground, style.backgroundRgb);
  toRgb(c.heatmapMask, style.maskRgb);
  toRgb(c.marker, style.markerRgb);
  toRgb(c.markerHalo, style.markerHaloRgb);
}

void applyPlotTheme(QCustomPlot* plot, Theme theme) {
  const ThemeColors& c = themeColors(theme);
  plot->setBackground(c.plotBackground);
  for (QCPAxis* ax : plot->axisRect() ? plot->axisRect()->axes() : QList<QCPAxis*>{}) {
    ax->setBasePen(QPen(c.axis));
    ax->setTickPen(QPen(c.axis));
    ax->setSubTickPen(QPen(c.axis));
    ax->setTickLabelColor(c.text);
    ax->setLabelColor(c.text);
    ax->grid()->setPen(QPen(c.grid, 1, Qt::DotLine));
    ax->grid()->setSubGridPen(QPen(c.grid.darker(theme == Theme::Dark ? 115 : 90), 1, Qt::DotLine));
    ax->grid()->setZeroLinePen(QPen(c.grid, 1));
  }
  if (plot->legend) {
    plot->legend->setBrush(c.plotBackground);
    plot->legend->setBorderPen(QPen(c.axis));
    plot->legend->setTextColor(c.text);
  }
  for (int i = 0; i < plot->plottableCount(); ++i) {
    QCPAbstractPlottable* p = plot->plottable(i);
    // Only curves that name their role: bars and other panels' data colours stay as they are.
    const QVariant role = p->property("llSeries");
    if (!role.isValid()) continue;
    QPen pen = p->pen();
    pen.setColor(c.series[std::clamp(role.toInt(), 0, 2)]);
    p->setPen(pen);
  }
  plot->replot();
}

void applyTheme(Theme theme) {
  g_current = theme;
  QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
  QPalette p;
  if (theme == Theme::Dark) {
    const QColor window(45, 45, 48), base(30, 30, 32), text(220, 220, 220), accent(42, 130, 218);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, window);
    p.setColor(QPalette::ToolTipBase, window);
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, window);
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, Qt::red);
    p.setColor(QPalette::Link, accent);
    p.setColor(QPalette::Highlight, accent);
    p.setColor(QPalette::HighlightedText, Qt::black);
    p.setColor(QPalette::PlaceholderText, QColor(140, 140, 140));
    p.setColor(QPalette::Disabled, QPalette::Text, QColor(120, 120, 120));
    p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(120, 120, 120));
    p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(120, 120, 120));
  } else {
    p = QApplication::style()->standardPalette();
  }
  QApplication::setPalette(p);
}

Theme savedTheme() {
  return QSettings().value(QStringLiteral("theme")).toString() == QLatin1String("dark")
             ? Theme::Dark
             : Theme::Light;
}

void saveTheme(Theme theme) {
  QSettings().setValue(QStringLiteral("theme"),
                       theme == Theme::Dark ? QStringLiteral("dark") : QStringLiteral("light"));
}

QCPColorGradient divergingGradient() {
  QCPColorGradient g;
  g.clearColorStops();
  const vis::ColormapLut& lut = vis::colormapLut(vis::Colormap::Diverging);
  for (int i = 0; i < 256; ++i)  // every entry: the centre's lightness peak is kept
    g.setColorStopAt(i / 255.0, QColor(lut[i * 4], lut[i * 4 + 1], lut[i * 4 + 2]));
  return g;
}

void applyColorScaleTheme(QCPColorScale* scale, Theme theme) {
  const ThemeColors& c = themeColors(theme);
  QCPAxis* ax = scale->axis();
  ax->setBasePen(QPen(c.axis));
  ax->setTickPen(QPen(c.axis));
  ax->setSubTickPen(QPen(c.axis));
  ax->setTickLabelColor(c.text);
  ax->setLabelColor(c.text);
}

}  // namespace ll::ui
