// The Teacher panel: draws a Snapshot's TeacherComparison (computed on the worker).
#include "ui/teacher_panel.h"

#include "runtime/analysis/teacher.h"
#include "ui/selection_model.h"
#include "ui/server_models.h"
#include "ui/theme.h"

#include <qcustomplot.h>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace ll::ui {

namespace {
QCPItemStraightLine* thresholdLine(QCustomPlot* p) {
  auto* l = new QCPItemStraightLine(p);
  l->setPen(QPen(Qt::gray, 1, Qt::DashLine));
  l->setSelectable(false);
  l->setVisible(false);
  return l;
}
}  // namespace

TeacherPanel::TeacherPanel(SelectionModel* selection, QWidget* parent) : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(2, 2, 2, 2);
  auto* bar = new QHBoxLayout;
  m_name = new QLabel(this);
  m_name->setTextFormat(Qt::PlainText);
  m_name->setMinimumWidth(40);
  m_choose = new QPushButton(tr("Teacher..."), this);
  m_choose->setToolTip(tr("Choose a teacher model with the same vocabulary"));
  m_clear = new QPushButton(tr("Clear"), this);
  bar->addWidget(m_name, 1);
  bar->addWidget(m_choose);
  bar->addWidget(m_clear);
  v->addLayout(bar);
  m_status = new QLabel(this);
  m_status->setWordWrap(true);
  m_status->setTextFormat(Qt::PlainText);
  v->addWidget(m_status);

  m_plot = new QCustomPlot(this);
  m_plot->setMinimumHeight(110);
  m_plot->xAxis->setLabel(tr("student entropy H / ln|V|"));
  m_plot->yAxis->setLabel(tr("JSD (bits)"));
  m_plot->yAxis->ticker()->setTickCount(3);
  for (auto [series, name] : {std::pair{PlotSeries::Primary, tr("token")},
                              std::pair{PlotSeries::Tertiary, tr("overconfident")}}) {
    QCPGraph* g = m_plot->addGraph();
    setPlotSeries(g, series);
    g->setLineStyle(QCPGraph::lsNone);
    g->setName(name);
  }
  // Overconfident tokens stand out by shape too, not only by colour.
  m_plot->graph(kAgreeOrUnsure)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 6));
  m_plot->graph(kOverconfident)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssTriangle, 9));
  thresholdLine(m_plot);
  thresholdLine(m_plot);
  // The legend in a row of its own above the scatter (inside it would hide points).
  m_plot->legend->setVisible(true);
  m_plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  m_plot->plotLayout()->insertRow(0);
  m_plot->plotLayout()->addElement(0, 0, m_plot->legend);
  m_plot->plotLayout()->setRowStretchFactor(0, 0.001);
  v->addWidget(m_plot, 1);

  m_table = new QTableWidget(0, 4, this);
  m_table->setHorizontalHeaderLabels({tr("token"), tr("H/ln|V|"), tr("JSD bits"), tr("quadrant")});
  m_table->verticalHeader()->setVisible(false);
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_table->horizontalHeader()->setStretchLastSection(true);
  m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
  m_table->setWordWrap(false);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->setMinimumHeight(80);
  v->addWidget(m_table, 1);
  applyPlotTheme(m_plot, currentTheme());
  updateName();
  clearData();

  connect(m_choose, &QPushButton::clicked, this, &TeacherPanel::chooseTeacher);
  connect(m_clear, &QPushButton::clicked, this, [this] { setTeacherPath(QString()); });
  connect(m_table, &QTableWidget::cellClicked, this, [this](int row, int) {
    if (m_snapshot && m_snapshot->teacher) m_selection->setToken(row);
  });
}

void TeacherPanel::changeEvent(QEvent* e) {
  Panel::changeEvent(e);
  // applyTheme sets the application palette; the plot's own colours follow.
  if (e->type() == QEvent::PaletteChange) applyPlotTheme(m_plot, currentTheme());
}

QList<QWidget*> TeacherPanel::figureWidgets() const {
  return {m_plot};
}

QString TeacherPanel::status() const {
  return m_status->text();
}

void TeacherPanel::updateName() {
  m_name->setText(m_path.isEmpty() ? tr("No teacher model")
                                   : tr("Teacher: %1").arg(QFileInfo(m_path).fileName()));
  m_name->setToolTip(m_path);
  m_clear->setEnabled(!m_path.isEmpty());
}

void TeacherPanel::setTeacherPath(const QString& path) {
  if (path == m_path) return;
  m_path = path;
  updateName();
  emit settingsChanged();
}

void TeacherPanel::setServer(const std::optional<RemoteTarget>& server) {
  const QString was = m_server ? m_server->address() : QString();
  const QString now = server ? server->address() : QString();
  m_server = server;
  if (was == now) return;
  m_path.clear();  // a path of the other place: the next analysis request runs without it
  updateName();
}

void TeacherPanel::chooseTeacher() {
  if (m_server) {
    ServerModelDialog d(*m_server, tr("Compare with teacher model"), m_path, this);
    if (d.exec() == QDialog::Accepted && !d.path().isEmpty()) setTeacherPath(d.path());
    return;
  }
  const QString file = QFileDialog::getOpenFileName(
      this, tr("Compare with teacher model"), QFileInfo(m_path).absolutePath(),
      tr("Models (*.gguf *.safetensors *.bin *.json);;All files (*)"));
  if (!file.isEmpty()) setTeacherPath(file);
}

void TeacherPanel::applyTo(ViewState& state) const {
  state.teacher.model = m_path.toStdString();
}

void TeacherPanel::applyState(const TeacherSettings& settings) {
  m_path = QString::fromStdString(settings.model);
  updateName();
}

void TeacherPanel::clearData() {
  Panel::clearData();
  for (int i = 0; i < m_plot->graphCount(); ++i) m_plot->graph(i)->data()->clear();
  for (int i = 0; i < m_plot->itemCount(); ++i) m_plot->item(i)->setVisible(false);
  m_plot->replot();
  m_table->setRowCount(0);
  m_status->setText(m_path.isEmpty()
                        ? tr("Choose a teacher model on the same vocabulary (File > Compare with "
                             "teacher model...) to see where the two disagree.")
                        : QString());
}

void TeacherPanel::showSnapshot(const SnapshotPtr& snapshot) {
  clearData();
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  if (!s.teacherError.isEmpty()) {
    m_status->setText(s.teacherError);
    return;
  }
  if (!s.teacher) {
    if (!s.state.teacher.model.empty() && s.trace)
      m_status->setText(tr("Running the teacher over this prompt..."));
    return;
  }
  const rt::ana::TeacherComparison& c = *s.teacher;
  const int T = static_cast<int>(c.jsdBits.size());
  QVector<double> hx, dy, ox, oy;
  int over = 0;
  double top = c.jsdThreshold;
  m_table->setRowCount(T);
  for (int t = 0; t < T; ++t) {
    const bool o = c.quadrant[t] == rt::ana::Quadrant::Overconfident;
    (o ? ox : hx) << c.normalized[t];
    (o ? oy : dy) << c.jsdBits[t];
    over += o;
    top = std::max(top, double(c.jsdBits[t]));
    const QString tok = t < s.tokens.size() ? s.tokens[t] : QString();
    m_table->setItem(t, kToken, new QTableWidgetItem(QString::number(t) + " " + tok));
    m_table->setItem(t, kEntropy, new QTableWidgetItem(QString::number(c.normalized[t], 'f', 3)));
    m_table->setItem(t, kJsd, new QTableWidgetItem(QString::number(c.jsdBits[t], 'g', 3)));
    m_table->setItem(
        t, kQuadrant,
        new QTableWidgetItem(QString::fromStdString(rt::ana::quadrantName(c.quadrant[t]))));
  }
  m_plot->graph(kAgreeOrUnsure)->setData(hx, dy);
  m_plot->graph(kOverconfident)->setData(ox, oy);
  auto* hLine = static_cast<QCPItemStraightLine*>(m_plot->item(0));
  auto* dLine = static_cast<QCPItemStraightLine*>(m_plot->item(1));
  hLine->point1->setCoords(c.entropyThreshold, 0);
  hLine->point2->setCoords(c.entropyThreshold, 1);
  dLine->point1->setCoords(0, c.jsdThreshold);
  dLine->point2->setCoords(1, c.jsdThreshold);
  hLine->setVisible(true);
  dLine->setVisible(true);
  m_plot->xAxis->setRange(0, 1);
  m_plot->yAxis->setRange(0, top * 1.15 + 1e-9);
  applyPlotTheme(m_plot, currentTheme());
  m_status->setText(tr("%1: %2 of %3 tokens overconfident (low entropy, high divergence); "
                       "thresholds: the medians")
                        .arg(s.teacherName)
                        .arg(over)
                        .arg(T));
}

}  // namespace ll::ui
