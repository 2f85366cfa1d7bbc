// The LayerLens main window: dockable panels (model, prompt, attention, token selection, entropy,
// routing, steering, output) around one SelectionModel and one SessionController. Prompt edits
// restart a 150 ms debounce (the first edit after a pause runs at once); every other change asks
// for a recomputation at once.
#pragma once

#include "runtime/api/session_file.h"
#include "ui/remote_job.h"
#include "ui/theme.h"
#include "ui/view_state.h"

#include <QMainWindow>
#include <QMessageBox>
#include <QPointer>
#include <QSet>

#include <optional>

class QDockWidget;
class QLabel;
class QMenu;

class QMimeData;
class QPlainTextEdit;
class QProgressBar;
class QTimer;
class QVulkanInstance;

namespace ll::vis {
class TokenOverlayView;
}

namespace ll::ui {

class AttentionPanel;
class EntropyPanel;
class ExpertContrastPanel;
class HeatmapView;
class KnockoutPanel;
class AttributionPanel;
class LayerSkipPanel;
class FlowPanel;
class LatentPanel;
class SteeringReadoutsPanel;
class TeacherPanel;
class PatchingPanel;
class LensPanel;
class ModelPanel;
class OutputPanel;
class Panel;
class PlotPanel;
class PromptPanel;
class RoutingPanel;
class SelectionModel;
class SelectionPanel;
class SessionController;
class SteeringPanel;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  // instance: a created QVulkanInstance, or null when Vulkan is unavailable. threads: CPU
  // backend threads (0: all cores).
  explicit MainWindow(QVulkanInstance* instance, QWidget* parent = nullptr, int threads = 0);
  ~MainWindow() override;

  void openModel(const QString& path);
  // Attaches to a model on a `layerlens-cli serve` server (File > Connect to server, --connect);
  // the current model stays until the server has opened this one. File > Open returns to local.
  void connectToServer(const RemoteTarget& target);
  // File > Connect to server...: the dialog, filled with the last target; Connect connects.
  void showConnectDialog();
  // The status bar's persistent notice of a failed analysis (a lost server): the panels keep the
  // last result, marked stale by it; "" when the last run succeeded.
  QString analysisErrorText() const;
  // What a drop on the window does: opens the first local file or folder (false: none).
  bool openDropped(const QMimeData* mime);
  void setPrompt(const QString& text);

  // Sessions and demo presets. applySessionDocument opens modelFile (the session's model, already
  // resolved to a file) and, once it has loaded, gives every panel its part of the document
  // (layer, head, token, router edits, knockout, token selection, steering) before the first
  // run; setPrompt false keeps the prompt in the editor. sessionDocument is what the panels hold
  // now (plus the shown token selection), as Save session writes it.
  void applySessionDocument(const rt::SessionState& session, const QString& modelFile,
                            bool setPrompt = true);
  rt::SessionState sessionDocument() const;
  // The panels in front of their tab groups (ids), as sessions save them under kFrontPanelsKey;
  // raisePanels brings the named ones to the front.
  static constexpr const char* kFrontPanelsKey = "frontPanels";
  QStringList frontPanels() const;
  void raisePanels(const QStringList& ids);
  // The panels showing a session's views ("attention", "headgrid", "lens", "routing", ...), the
  // active view's last: what a demo preset brings to the front.
  QStringList panelsForViews(const std::vector<std::string>& open, const std::string& active) const;
  // The request the panels make now (what the next run computes).
  ViewState requestedState() const { return currentState(); }
  void setDebounceMs(int ms);
  // True while prompt edits are inside the debounce interval (a run is due when it ends).
  bool debouncePending() const;
  void setTheme(Theme theme);
  Theme theme() const { return m_theme; }

  SessionController* controller() const { return m_controller; }
  SelectionModel* selection() const { return m_selection; }
  ModelPanel* modelPanel() const { return m_model; }
  PromptPanel* promptPanel() const { return m_prompt; }
  AttentionPanel* attentionPanel() const { return m_attention; }
  SelectionPanel* selectionPanel() const { return m_selectionPanel; }
  EntropyPanel* entropyPanel() const { return m_entropy; }
  RoutingPanel* routingPanel() const { return m_routing; }
  SteeringPanel* steeringPanel() const { return m_steering; }
  OutputPanel* outputPanel() const { return m_output; }
  LensPanel* lensPanel() const { return m_lens; }
  AttributionPanel* attributionPanel() const { return m_attribution; }
  LayerSkipPanel* layerSkipPanel() const { return m_layerSkip; }
  FlowPanel* flowPanel() const { return m_flow; }
  LatentPanel* latentPanel() const { return m_latent; }
  ExpertContrastPanel* contrastPanel() const { return m_contrast; }
  KnockoutPanel* knockoutPanel() const { return m_knockout; }
  SteeringReadoutsPanel* steeringReadoutsPanel() const { return m_steerRead; }
  TeacherPanel* teacherPanel() const { return m_teacher; }
  PatchingPanel* patchingPanel() const { return m_patching; }
  const QList<Panel*>& panels() const { return m_panels; }
  // View > Reset layout: the docks as a new window arranges them (the saved layout is replaced
  // when the window closes).
  void resetLayout();
  // QSettings keys of the saved window geometry and dock layout.
  static constexpr const char* kGeometryKey = "window/geometry";
  static constexpr const char* kStateKey = "window/state";
  // Help > About: version, compute backend of the loaded model, Vulkan device, Qt version.
  QString aboutText() const;
  // The non-modal message naming why the last model load failed (null when none is shown).
  QMessageBox* loadErrorBox() const { return m_loadError; }
  QDockWidget* dock(const QString& panelId) const;

  // Older accessors (smoke test): the attention map, the output-entropy plot, the prompt editor.
  QPlainTextEdit* promptEditor() const;
  HeatmapView* heatmapView() const;
  PlotPanel* plotPanel() const;
  vis::TokenOverlayView* tokenOverlay() const;

  // The snapshot every panel shows now (null before the first one).
  SnapshotPtr shownSnapshot() const { return m_shown; }
  // True while no model is loaded and the test heatmap is shown.
  bool showingTestPattern() const { return m_testPattern; }
  // Milliseconds each panel took to take in the last snapshot (UI thread), by panelId.
  const QList<QPair<QString, double>>& panelTimes() const { return m_panelTimes; }

 signals:
  // openModel was called (a file, a drop, a recent entry, a session or a demo): path is loading.
  void modelRequested(const QString& path);
  // The panels have been given this snapshot: every panel for the analysis panels' snapshot
  // (snapshot->streamed None), the panels showing it for a streamed output; complete: the last.
  void panelsUpdated(ll::ui::SnapshotPtr snapshot, bool complete);

 protected:
  void closeEvent(QCloseEvent* e) override;
  bool event(QEvent* e) override;
  void showEvent(QShowEvent* e) override;

 private:
  // Construction in parts (main_window_setup.cpp).
  void buildPanels(QVulkanInstance* instance);
  void buildStatusBar(QVulkanInstance* instance);
  void connectInputs();
  void connectController();
  void buildMenus();
  void buildCpuMathMenu(QMenu* view);
  void showAbout();
  // Help > Guided demos: opens the Demos menu (installed by installDemoMenu) in the menu bar.
  void showDemosMenu();
  void showLoadError(const QString& path, const QString& error);
  QDockWidget* addPanel(Panel* panel, const QString& title, Qt::DockWidgetArea area);
  // The start without a model: the "Open model" call to action and the labelled test heatmap.
  // (The built-in demo model will slot in here.)
  void showNoModelStart();
  // The columns and the left column's split between model card and prompt (new window, Reset
  // layout).
  void applyDefaultDockSizes();
  void requestAnalysis(bool force = false);
  ViewState currentState() const;
  // The analysis panels' snapshot goes to every panel; a streamed output only to the panels
  // that show it.
  void showSnapshot(const SnapshotPtr& s, bool complete);
  void showStreamed(const SnapshotPtr& s);
  // "27 tokens, 0 reused, 12 ms" and the first token-selection warning, if any.
  QString statusLine(const Snapshot& s) const;
  // A panel with nothing on screen (behind another dock's tab, or closed) is not redrawn on each
  // keystroke: it is marked stale and given the shown snapshot when it comes into view.
  bool outOfView(Panel* p) const;
  void exportPlot();
  void applyPendingSession();

  SelectionModel* m_selection = nullptr;
  SessionController* m_controller = nullptr;
  ModelPanel* m_model = nullptr;
  PromptPanel* m_prompt = nullptr;
  AttentionPanel* m_attention = nullptr;
  SelectionPanel* m_selectionPanel = nullptr;
  EntropyPanel* m_entropy = nullptr;
  RoutingPanel* m_routing = nullptr;
  SteeringPanel* m_steering = nullptr;
  OutputPanel* m_output = nullptr;
  LensPanel* m_lens = nullptr;
  AttributionPanel* m_attribution = nullptr;
  LayerSkipPanel* m_layerSkip = nullptr;
  FlowPanel* m_flow = nullptr;
  LatentPanel* m_latent = nullptr;
  ExpertContrastPanel* m_contrast = nullptr;
  KnockoutPanel* m_knockout = nullptr;
  SteeringReadoutsPanel* m_steerRead = nullptr;
  TeacherPanel* m_teacher = nullptr;
  // The server last asked for (File > Connect to server): where a remote model's teacher is
  // chosen once it has opened.
  std::optional<RemoteTarget> m_remoteTarget;
  PatchingPanel* m_patching = nullptr;
  QList<Panel*> m_panels;
  QByteArray m_defaultLayout;          // saveState() of the layout the constructor builds
  bool m_defaultSizesPending = false;  // no saved layout: the first show sizes the docks
  QLabel* m_device = nullptr;
  QLabel* m_busyLabel = nullptr;
  QLabel* m_analysisError = nullptr;  // "the panels show the last result" after a failed run
  QProgressBar* m_busy = nullptr;
  QTimer* m_debounce = nullptr;
  Theme m_theme = Theme::Light;
  bool m_testPattern = true;
  bool m_hasRequested = false;
  ViewState m_requested;
  SnapshotPtr m_shown;
  QList<QPair<QString, double>> m_panelTimes;
  QSet<Panel*> m_stalePanels;
  std::optional<ViewState> m_pendingSession;  // applied when the model has loaded
  QStringList m_pendingFront;  // a session's panels in front, raised again once it has loaded
  QString m_backend;           // the loaded model's compute backend
  QPointer<QMessageBox> m_loadError;  // stays until closed or a model loads
  int m_pendingToken = -1;  // a session's token: valid once the first snapshot gives the length
};

}  // namespace ll::ui
