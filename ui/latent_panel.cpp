// The Latent language panel: draws a Snapshot's LatentLanguageResult (computed on the worker).
#include "ui/latent_panel.h"

#include "ui/theme.h"

#include <qcustomplot.h>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QVBoxLayout>

#include <algorithm>

namespace ll::ui {

LatentPanel::LatentPanel(SelectionModel* selection, QWidget* parent) : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(2, 2, 2, 2);
  auto* form = new QFormLayout;
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  m_wordA = new QLineEdit(this);
  m_wordB = new QLineEdit(this);
  m_wordA->setPlaceholderText(tr("e.g. the answer in the prompt's language"));
  m_wordB->setPlaceholderText(tr("e.g. its English equivalent"));
  const QString help = QString::fromUtf8(rt::ana::LatentLanguageRequest::kHelpWords);
  m_wordA->setToolTip(help);
  m_wordB->setToolTip(help);
  m_wordA->setMinimumWidth(60);
  m_wordB->setMinimumWidth(60);
  form->addRow(tr("Word A"), m_wordA);
  form->addRow(tr("Word B"), m_wordB);
  v->addLayout(form);
  m_status = new QLabel(this);
  m_status->setWordWrap(true);
  m_status->setTextFormat(Qt::PlainText);  // words and token text show literally
  v->addWidget(m_status);

  m_plot = new QCustomPlot(this);
  m_plot->setMinimumHeight(120);
  m_plot->xAxis->setLabel(tr("layer (0 = embeddings)"));
  m_plot->yAxis->setLabel(tr("lens probability"));
  // Whole layer numbers (never 0.5 on a 2-layer model), sparser on deep models.
  QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
  ticker->setTickStep(1.0);
  ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  m_plot->xAxis->setTicker(ticker);
  m_plot->xAxis->setSubTicks(false);
  m_plot->yAxis->ticker()->setTickCount(4);
  for (PlotSeries series : {PlotSeries::Primary, PlotSeries::Secondary}) {
    QCPGraph* g = m_plot->addGraph();
    setPlotSeries(g, series);
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
  }
  m_plot->legend->setVisible(true);
  m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
  v->addWidget(m_plot, 1);
  clearData();

  connect(m_wordA, &QLineEdit::editingFinished, this, &Panel::settingsChanged);
  connect(m_wordB, &QLineEdit::editingFinished, this, &Panel::settingsChanged);
}

QList<QWidget*> LatentPanel::figureWidgets() const {
  return {m_plot};
}

QString LatentPanel::status() const {
  return m_status->text();
}

void LatentPanel::applyTo(ViewState& state) const {
  state.latent.wordA = m_wordA->text().trimmed().toStdString();
  state.latent.wordB = m_wordB->text().trimmed().toStdString();
}

void LatentPanel::applyState(const LatentLanguageSettings& settings) {
  const QSignalBlocker b1(m_wordA), b2(m_wordB);
  m_wordA->setText(QString::fromStdString(settings.wordA));
  m_wordB->setText(QString::fromStdString(settings.wordB));
}

void LatentPanel::clearData() {
  Panel::clearData();
  for (int i = 0; i < m_plot->graphCount(); ++i) m_plot->graph(i)->data()->clear();
  m_plot->graph(0)->setName(tr("word A"));
  m_plot->graph(1)->setName(tr("word B"));
  applyPlotTheme(m_plot, currentTheme());
  m_status->setText(
      tr("Give two words: the plot shows, per layer, the logit-lens probability of each as the "
         "next token after the last prompt token."));
}

void LatentPanel::showSnapshot(const SnapshotPtr& snapshot) {
  clearData();
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  if (!s.latentError.isEmpty()) {
    m_status->setText(s.latentError);
    return;
  }
  if (!s.latent) return;
  const rt::ana::LatentLanguageResult& r = *s.latent;
  const QString a = QString::fromStdString(s.state.latent.wordA);
  const QString b = QString::fromStdString(s.state.latent.wordB);
  const QString tok = r.position < s.tokens.size() ? s.tokens[r.position] : QString();
  m_status->setText(tr("After #%1 \"%2\": \"%3\" counts tokens %4, \"%5\" tokens %6.")
                        .arg(r.position)
                        .arg(tok, a, s.latentTokensA.join(QStringLiteral(", ")), b,
                             s.latentTokensB.join(QStringLiteral(", "))));
  const int rows = r.nLayer + 1;
  QVector<double> xs(rows), ya(rows), yb(rows);
  double top = 0;
  for (int l = 0; l < rows; ++l) {
    xs[l] = l;
    ya[l] = r.a[l];
    yb[l] = r.b[l];
    top = std::max({top, ya[l], yb[l]});
  }
  m_plot->graph(0)->setData(xs, ya, true);
  m_plot->graph(1)->setData(xs, yb, true);
  m_plot->graph(0)->setName(tr("P(%1)").arg(a));
  m_plot->graph(1)->setName(tr("P(%1)").arg(b));
  m_plot->xAxis->setRange(-0.3, r.nLayer + 0.3);
  m_plot->yAxis->setRange(0, std::min(1.0, top * 1.15 + 1e-6));
  applyPlotTheme(m_plot, currentTheme());
}

}  // namespace ll::ui
