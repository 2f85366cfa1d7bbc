#include "ui/main_window.h"

#include "ui/attention_panel.h"
#include "ui/attribution_panel.h"
#include "ui/connect_dialog.h"
#include "ui/entropy_panel.h"
#include "ui/expert_contrast_panel.h"
#include "ui/export_actions.h"
#include "ui/file_drop_filter.h"
#include "ui/flow_panel.h"
#include "ui/heatmap_view.h"
#include "ui/knockout_panel.h"
#include "ui/latent_panel.h"
#include "ui/layer_skip_panel.h"
#include "ui/lens_panel.h"
#include "ui/model_panel.h"
#include "ui/output_panel.h"
#include "ui/patching_panel.h"
#include "ui/plot_panel.h"
#include "ui/prompt_panel.h"
#include "ui/routing_panel.h"
#include "ui/selection_model.h"
#include "ui/selection_panel.h"
#include "ui/session_controller.h"
#include "ui/session_state_map.h"
#include "ui/steering_panel.h"
#include "ui/steering_readouts_panel.h"
#include "ui/teacher_panel.h"
#include "visualizers/qt/attention_map_view.h"
#include "visualizers/qt/heatmap_window.h"

#include <qcustomplot.h>
#include <QActionGroup>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QScreen>
#include <QSettings>
#include <QStatusBar>
#include <QTabBar>
#include <QTimer>
#include <QVulkanInstance>

#include <utility>

namespace ll::ui {

MainWindow::MainWindow(QVulkanInstance* instance, QWidget* parent, int threads)
    : QMainWindow(parent) {
  setWindowTitle(tr("LayerLens"));
  setObjectName(QStringLiteral("LayerLensMainWindow"));
  setDockNestingEnabled(true);
  // Local files dropped anywhere on the window (any panel, the editor, the Vulkan views) open;
  // acceptDrops keeps the window a drop target on platforms that ask the top level.
  setAcceptDrops(true);
  new FileDropFilter(this, [this](const QMimeData* mime) { return openDropped(mime); });
  m_selection = new SelectionModel(this);
  m_controller = new SessionController(threads, this);

  buildPanels(instance);
  buildMenus();
  buildStatusBar(instance);
  connectInputs();
  connectController();

  // A first start fits the screen it opens on (a 1024x700 laptop screen included); a saved
  // geometry replaces this below.
  QSize size(1440, 900);
  if (const QScreen* screen = QGuiApplication::primaryScreen())
    size = size.boundedTo(screen->availableGeometry().size());
  resize(size);
  m_defaultLayout = saveState();
  QSettings settings;
  restoreGeometry(settings.value(QLatin1String(kGeometryKey)).toByteArray());
  // Dock sizes only take once the window has its size: the first show applies the defaults
  // unless a saved layout was restored.
  m_defaultSizesPending = !restoreState(settings.value(QLatin1String(kStateKey)).toByteArray());
  setTheme(savedTheme());
  showNoModelStart();
}

MainWindow::~MainWindow() = default;

QDockWidget* MainWindow::addPanel(Panel* panel, const QString& title, Qt::DockWidgetArea area) {
  auto* d = new QDockWidget(title, this);
  d->setObjectName(QStringLiteral("dock_") + panel->panelId());
  d->setWidget(panel);
  // A panel that was behind another tab (or closed) catches up when it comes into view.
  connect(d, &QDockWidget::visibilityChanged, this, [this, panel](bool visible) {
    if (!visible || !m_stalePanels.remove(panel) || !m_shown) return;
    panel->showSnapshot(m_shown);
  });
  addDockWidget(area, d);
  m_panels.append(panel);
  return d;
}

QDockWidget* MainWindow::dock(const QString& panelId) const {
  return findChild<QDockWidget*>(QStringLiteral("dock_") + panelId);
}

QPlainTextEdit* MainWindow::promptEditor() const {
  return m_prompt->editor();
}
HeatmapView* MainWindow::heatmapView() const {
  return m_attention->heatmap();
}
PlotPanel* MainWindow::plotPanel() const {
  return m_entropy->outputPlot();
}
vis::TokenOverlayView* MainWindow::tokenOverlay() const {
  return m_prompt->chips();
}

void MainWindow::setTheme(Theme theme) {
  m_theme = theme;
  applyTheme(theme);
  saveTheme(theme);
  if (auto* a = findChild<QAction*>(theme == Theme::Dark ? QStringLiteral("themeDark")
                                                         : QStringLiteral("themeLight")))
    a->setChecked(true);
  // QCustomPlot paints its own background, axes and pens: give them the theme's colours (the
  // heatmaps follow the palette change themselves).
  for (QCustomPlot* p : findChildren<QCustomPlot*>()) applyPlotTheme(p, theme);
}

void MainWindow::setDebounceMs(int ms) {
  m_debounce->setInterval(ms);
}

bool MainWindow::debouncePending() const {
  return m_debounce->isActive();
}

void MainWindow::showNoModelStart() {
  m_testPattern = true;
  m_model->setNoModel(true);
  dock(QStringLiteral("model"))->raise();
  if (m_prompt->editor()->toPlainText().isEmpty())
    m_prompt->editor()->setPlainText(QStringLiteral(
        "The quick brown fox jumps over the lazy dog because the dog was asleep in the sun"));
  m_attention->showTestPattern(m_prompt->editor()->toPlainText());
  statusBar()->showMessage(
      tr("No model loaded: the attention panel shows a synthetic test heatmap"));
}

void MainWindow::openModel(const QString& path) {
  m_model->setLoading(path);
  statusBar()->showMessage(tr("Loading %1...").arg(path));
  m_controller->loadModel(path);
  emit modelRequested(path);
}

void MainWindow::connectToServer(const RemoteTarget& target) {
  m_model->setLoading(remoteLabel(target));
  statusBar()->showMessage(tr("Connecting to %1...").arg(target.address()));
  saveRemoteTarget(target);
  m_remoteTarget = target;
  m_controller->connectRemote(target);
}

void MainWindow::showConnectDialog() {
  ConnectDialog dialog(this);
  dialog.setTarget(savedRemoteTarget());
  if (dialog.exec() == QDialog::Accepted) connectToServer(dialog.target());
}

QString MainWindow::analysisErrorText() const {
  return m_analysisError && !m_analysisError->isHidden() ? m_analysisError->text() : QString();
}

void MainWindow::setPrompt(const QString& text) {
  m_prompt->editor()->setPlainText(text);
}

void MainWindow::applySessionDocument(const rt::SessionState& session, const QString& modelFile,
                                      bool setPromptText) {
  m_pendingSession = viewStateFromSession(session);
  m_pendingFront.clear();
  if (const auto it = session.view.extra.find(kFrontPanelsKey); it != session.view.extra.end())
    m_pendingFront = QString::fromStdString(it->second).split(',', Qt::SkipEmptyParts);
  else  // a demo preset names the views it talks about, the active one last (raised last)
    m_pendingFront = panelsForViews(session.view.openPanels, session.view.activeView);
  raisePanels(m_pendingFront);  // now, and again once the model has loaded
  if (setPromptText) setPrompt(QString::fromStdString(session.prompt));
  openModel(modelFile);
}

QStringList MainWindow::panelsForViews(const std::vector<std::string>& open,
                                       const std::string& active) const {
  // Session view names that are not panels of their own live inside one.
  auto panelOf = [this](const std::string& view) {
    const QString id = QString::fromStdString(view);
    if (dock(id)) return id;
    if (id == QLatin1String("headgrid")) return QStringLiteral("attention");
    if (id == QLatin1String("lens")) return QStringLiteral("entropy");
    return QString();
  };
  QStringList ids;
  for (const std::string& v : open)
    if (const QString id = panelOf(v); !id.isEmpty() && !ids.contains(id)) ids << id;
  if (const QString id = panelOf(active); !id.isEmpty()) {
    ids.removeAll(id);
    ids << id;
  }
  return ids;
}

void MainWindow::applyPendingSession() {
  if (!m_pendingSession) return;
  const ViewState v = *m_pendingSession;
  m_pendingSession.reset();
  m_selection->setLayer(v.layer);
  m_selection->setHead(v.head);
  m_selection->setToken(v.token);  // -1 (follow the last token) at once; others below
  m_pendingToken = v.token;
  m_prompt->setChatTemplate(v.chatTemplate);
  m_routing->applyState(v.routerEdits, m_selection->layer());
  m_attention->applyKnockout(v.knockout);
  m_selectionPanel->applyState(v.selection);
  m_steering->applyState(v.steering);
  m_lens->applyState(v.lensGrid);
  m_attribution->applyState(v.attribution);
  m_layerSkip->applyState(v.layerSkip);
  m_latent->applyState(v.latent);
  m_contrast->applyState(v.contrast);
  m_knockout->applyState(v.knockoutReadout);
  m_steerRead->applyState(v.steerRead);
  m_teacher->applyState(v.teacher);
  m_flow->applyState(v.flow);
  m_patching->applyState(v.patching);
  raisePanels(std::exchange(m_pendingFront, {}));
}

rt::SessionState MainWindow::sessionDocument() const {
  const ViewState v = currentState();
  const ModelInfo& info = m_controller->modelInfo();
  rt::SessionState s = sessionFromViewState(v, info.path.toStdString(), info.server.toStdString());
  // The token selection the panels show, when it was computed for this very request.
  if (m_shown && m_shown->state == v)
    s.selections = sessionFromSnapshot(*m_shown, m_controller->modelInfo().path).selections;
  s.view.extra[kFrontPanelsKey] = frontPanels().join(',').toStdString();
  return s;
}

bool MainWindow::outOfView(Panel* p) const {
  QDockWidget* d = dock(p->panelId());
  if (!isVisible() || !d) return false;  // hidden window (tests, start-up): update everything
  return d->isHidden() || (!tabifiedDockWidgets(d).isEmpty() && d->visibleRegion().isEmpty());
}

QStringList MainWindow::frontPanels() const {
  QStringList out;
  for (Panel* p : m_panels) {
    QDockWidget* d = dock(p->panelId());
    // A dock sharing its area as a tab is in front when it is the one drawn (the tabs behind it
    // stay "visible" to Qt, with nothing of them on screen).
    if (d && !tabifiedDockWidgets(d).isEmpty() && !d->visibleRegion().isEmpty())
      out << p->panelId();
  }
  return out;
}

void MainWindow::raisePanels(const QStringList& ids) {
  for (const QString& id : ids)
    if (QDockWidget* d = dock(id.trimmed())) {
      d->show();  // a panel the user closed comes back when a demo or session is about it
      d->raise();
    }
}

ViewState MainWindow::currentState() const {
  ViewState st;
  st.layer = m_selection->layer();
  st.head = m_selection->head();
  st.token = m_selection->token();
  for (Panel* p : m_panels) p->applyTo(st);
  st.attribution.enabled = !outOfView(m_attribution);
  return st;
}

void MainWindow::requestAnalysis(bool force) {
  if (!m_controller->hasModel()) {
    if (m_testPattern) m_attention->showTestPattern(m_prompt->editor()->toPlainText());
    return;
  }
  const ViewState st = currentState();
  // Nothing new: the debounce keeps running (it also tells a burst of typing from a first edit).
  if (!force && m_hasRequested && st == m_requested) return;
  m_debounce->stop();  // this run includes the pending prompt edit
  m_requested = st;
  m_hasRequested = true;
  m_controller->analyze(st);
}

namespace {

// The panels that show a streamed output (the rest keep the analysis panels' snapshot).
QStringList panelsShowing(StreamedOutput o) {
  switch (o) {
    case StreamedOutput::Continuation:
      return {QStringLiteral("output"), QStringLiteral("routing")};
    case StreamedOutput::Answers:
      return {QStringLiteral("selection")};
    case StreamedOutput::Steering:
      return {QStringLiteral("steering")};
    case StreamedOutput::LayerSkip:
      return {QStringLiteral("layerskip")};
    case StreamedOutput::ExpertContrast:
      return {QStringLiteral("contrast")};
    case StreamedOutput::KnockoutEffect:
      return {QStringLiteral("knockout")};
    case StreamedOutput::SteeringReadouts:
      return {QStringLiteral("steerread")};
    case StreamedOutput::Teacher:
      return {QStringLiteral("teacher")};
    case StreamedOutput::Flow:
      return {QStringLiteral("flow")};
    case StreamedOutput::Patching:
      return {QStringLiteral("patching")};
    case StreamedOutput::None:
      break;
  }
  return {};
}

}  // namespace

QString MainWindow::statusLine(const Snapshot& s) const {
  QString t = tr("%1 tokens, %2 reused, %3 ms")
                  .arg(s.nTokens)
                  .arg(s.reusedRows)
                  .arg(s.computeMs, 0, 'f', 1);
  // The selection panel may be behind a tab: the limitation is named here too.
  if (!s.selectionWarnings.isEmpty())
    t += tr(" | token selection: %1").arg(s.selectionWarnings.first());
  return t;
}

void MainWindow::showStreamed(const SnapshotPtr& s) {
  m_shown = s;
  m_panelTimes.clear();
  const QStringList ids = panelsShowing(s->streamed);
  QElapsedTimer timer;
  for (Panel* p : m_panels) {
    // The steering panel learns that steering is off from the last output as well.
    if (!ids.contains(p->panelId()) && !(s->complete && p->panelId() == QLatin1String("steering")))
      continue;
    if (outOfView(p)) {
      m_stalePanels.insert(p);
      continue;
    }
    timer.start();
    p->showSnapshot(s);
    m_panelTimes.append({p->panelId(), timer.nsecsElapsed() / 1e6});
  }
  if (s->complete)
    statusBar()->showMessage(statusLine(*s), s->selectionWarnings.isEmpty() ? 4000 : 0);
  emit panelsUpdated(s, s->complete);
}

void MainWindow::showSnapshot(const SnapshotPtr& s, bool complete) {
  m_shown = s;
  // The selection learns the prompt's length; a change it makes re-requests only if it differs.
  m_selection->setLimits(s->nLayer, s->nHead, s->nTokens);
  if (m_pendingToken >= 0 && s->nTokens > 0) {
    const int token = std::exchange(m_pendingToken, -1);
    if (token < s->nTokens) m_selection->setToken(token);  // asks for the run it selects
  }
  m_panelTimes.clear();
  QElapsedTimer timer;
  for (Panel* p : m_panels) {
    if (outOfView(p)) {
      m_stalePanels.insert(p);
      continue;
    }
    timer.start();
    p->showSnapshot(s);
    m_panelTimes.append({p->panelId(), timer.nsecsElapsed() / 1e6});
  }
  if (complete) statusBar()->showMessage(statusLine(*s), s->selectionWarnings.isEmpty() ? 4000 : 0);
  emit panelsUpdated(s, complete);
}

void MainWindow::closeEvent(QCloseEvent* e) {
  QSettings settings;
  settings.setValue(QLatin1String(kGeometryKey), saveGeometry());
  settings.setValue(QLatin1String(kStateKey), saveState());
  QMainWindow::closeEvent(e);
}

void MainWindow::showEvent(QShowEvent* e) {
  QMainWindow::showEvent(e);
  if (std::exchange(m_defaultSizesPending, false)) applyDefaultDockSizes();
}

bool MainWindow::event(QEvent* e) {
  // QMainWindow makes a tab bar for each group of tabbed docks and elides the titles when the
  // column is narrow ("Rout..."): full titles, with scroll arrows when they do not all fit.
  if (e->type() == QEvent::ChildPolished)
    if (auto* bar = qobject_cast<QTabBar*>(static_cast<QChildEvent*>(e)->child())) {
      bar->setElideMode(Qt::ElideNone);
      bar->setUsesScrollButtons(true);
    }
  return QMainWindow::event(e);
}

void MainWindow::resetLayout() {
  restoreState(m_defaultLayout);
  applyDefaultDockSizes();
}

void MainWindow::applyDefaultDockSizes() {
  resizeDocks({dock(QStringLiteral("model")), dock(QStringLiteral("prompt"))}, {260, 420},
              Qt::Vertical);
  // The attention map gets the widest column (the panels' small minimum widths would otherwise
  // leave the extra width to the left column); a smaller window shrinks the columns alike.
  resizeDocks({dock(QStringLiteral("prompt")), dock(QStringLiteral("attention")),
               dock(QStringLiteral("entropy"))},
              {380, 620, 420}, Qt::Horizontal);
}

bool MainWindow::openDropped(const QMimeData* mime) {
  const QString file = FileDropFilter::localFile(mime);
  if (file.isEmpty()) return false;
  openModel(file);
  return true;
}

void MainWindow::exportPlot() {
  const QString path = QFileDialog::getSaveFileName(this, tr("Export plot"), QString(),
                                                    tr("Figures (*.png *.pdf *.svg)"));
  if (path.isEmpty()) return;
  QString error;
  if (!plotPanel()->exportTo(path, &error)) QMessageBox::warning(this, tr("Export failed"), error);
}

}  // namespace ll::ui
