// MainWindow's menus (File, Navigate, View, Help) and its dialogs (About, the load-error box):
// kept apart from the window's panels and snapshot plumbing in main_window.cpp.
#include <QActionGroup>
#include <QApplication>
#include <QCheckBox>
#include <QDockWidget>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>

#include "ui/attribution_panel.h"
#include "ui/cpu_math_setting.h"
#include "ui/entropy_panel.h"
#include "ui/expert_contrast_panel.h"
#include "ui/flow_panel.h"
#include "ui/knockout_panel.h"
#include "ui/latent_panel.h"
#include "ui/layer_skip_panel.h"
#include "ui/lens_panel.h"
#include "ui/main_window.h"
#include "ui/model_panel.h"
#include "ui/patching_panel.h"
#include "ui/prompt_panel.h"
#include "ui/routing_panel.h"
#include "ui/selection_model.h"
#include "ui/selection_panel.h"
#include "ui/session_controller.h"
#include "ui/shortcuts_dialog.h"
#include "ui/steering_panel.h"
#include "ui/steering_readouts_panel.h"
#include "ui/teacher_panel.h"

namespace ll::ui {

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&Open model..."), QKeySequence::Open, m_model, &ModelPanel::chooseFile);
  file->addAction(tr("Open &Hugging Face folder..."), m_model, &ModelPanel::chooseFolder);
  // A model on a `layerlens-cli serve` server: the panels show its results as a local model's.
  file->addAction(tr("&Connect to server..."), this, &MainWindow::showConnectDialog)
      ->setObjectName(QStringLiteral("connectToServer"));
  // A second model on the same vocabulary, compared token by token in the Teacher panel.
  file->addAction(tr("Compare with &teacher model..."), this, [this] {
    dock(m_teacher->panelId())->raise();
    m_teacher->chooseTeacher();
  });
  file->addSeparator();
  // The attention map is exported through File > Export figure (installExportActions, which
  // puts its items above Quit); the output-entropy curve has no figure view of its own.
  file->addAction(tr("Export entropy plot..."), this, &MainWindow::exportPlot);
  file->addSeparator()->setObjectName(QStringLiteral("fileQuitSeparator"));
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close)
      ->setObjectName(QStringLiteral("fileQuit"));

  QMenu* nav = menuBar()->addMenu(tr("&Navigate"));
  nav->addAction(tr("Next layer"), QKeySequence(Qt::CTRL | Qt::Key_Down), this,
                 [this] { m_selection->stepLayer(+1); });
  nav->addAction(tr("Previous layer"), QKeySequence(Qt::CTRL | Qt::Key_Up), this,
                 [this] { m_selection->stepLayer(-1); });
  nav->addAction(tr("Next head"), QKeySequence(Qt::CTRL | Qt::Key_Right), this,
                 [this] { m_selection->stepHead(+1); });
  nav->addAction(tr("Previous head"), QKeySequence(Qt::CTRL | Qt::Key_Left), this,
                 [this] { m_selection->stepHead(-1); });
  nav->addAction(tr("Next token"), QKeySequence(Qt::ALT | Qt::Key_Right), this, [this] {
    m_selection->setToken(std::min(m_selection->resolvedToken() + 1, m_selection->nTokens() - 1));
  });
  nav->addAction(tr("Previous token"), QKeySequence(Qt::ALT | Qt::Key_Left), this,
                 [this] { m_selection->setToken(std::max(0, m_selection->resolvedToken() - 1)); });
  nav->addAction(tr("Follow the last token"), QKeySequence(Qt::ALT | Qt::Key_End), this,
                 [this] { m_selection->setToken(-1); });

  QMenu* view = menuBar()->addMenu(tr("&View"));
  for (QDockWidget* d : findChildren<QDockWidget*>()) view->addAction(d->toggleViewAction());
  view->addAction(tr("&Reset layout"), this, &MainWindow::resetLayout)
      ->setObjectName(QStringLiteral("viewResetLayout"));
  view->addSeparator();
  QAction* bounds = view->addAction(tr("Token boundaries"));
  bounds->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_B));
  bounds->setCheckable(true);
  connect(bounds, &QAction::toggled, m_prompt->boundariesBox(), &QCheckBox::setChecked);
  connect(m_prompt->boundariesBox(), &QCheckBox::toggled, bounds, &QAction::setChecked);
  view->addSeparator();
  auto* themes = new QActionGroup(this);
  QAction* light = view->addAction(tr("Light theme"));
  QAction* dark = view->addAction(tr("Dark theme"));
  for (QAction* a : {light, dark}) {
    a->setCheckable(true);
    themes->addAction(a);
  }
  light->setObjectName(QStringLiteral("themeLight"));
  dark->setObjectName(QStringLiteral("themeDark"));
  connect(light, &QAction::triggered, this, [this] { setTheme(Theme::Light); });
  connect(dark, &QAction::triggered, this, [this] { setTheme(Theme::Dark); });
  view->addSeparator();
  buildCpuMathMenu(view);

  // Analyses: the right column holds more tabs than fit its width; each entry brings its panel
  // to the front (shown again if it was closed), in the column's tab order.
  QMenu* analyses = menuBar()->addMenu(tr("&Analyses"));
  analyses->menuAction()->setObjectName(QStringLiteral("analysesMenu"));
  const std::vector<Panel*> viewPanels = {m_entropy, m_selectionPanel, m_routing, m_steering,
                                          m_lens};
  const std::vector<Panel*> benchPanels = {m_attribution, m_layerSkip, m_latent,
                                           m_contrast,    m_knockout,  m_steerRead,
                                           m_teacher,     m_flow,      m_patching};
  for (const auto* group : {&viewPanels, &benchPanels}) {
    analyses->addSection(group == &viewPanels ? tr("Views") : tr("Experiments"));
    for (Panel* p : *group) {
      QDockWidget* d = dock(p->panelId());
      QAction* a = analyses->addAction(d->windowTitle(), this,
                                       [this, id = p->panelId()] { raisePanels({id}); });
      a->setObjectName(QStringLiteral("analysis_") + p->panelId());
    }
  }

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->menuAction()->setObjectName(QStringLiteral("helpMenu"));
  QAction* keys = help->addAction(tr("&Keyboard shortcuts..."), QKeySequence::HelpContents, this,
                                  [this] { showShortcutsDialog(this); });
  keys->setObjectName(QStringLiteral("helpShortcuts"));
  QAction* demos = help->addAction(tr("Guided &demos"), this, &MainWindow::showDemosMenu);
  demos->setObjectName(QStringLiteral("helpDemos"));
  // Enabled when there is a Demos menu to open (installDemoMenu adds it after the window).
  connect(help, &QMenu::aboutToShow, this, [this, demos] {
    demos->setEnabled(menuBar()->findChild<QMenu*>(QStringLiteral("demosMenu")) != nullptr);
  });
  help->addSeparator();
  QAction* about = help->addAction(tr("&About LayerLens..."), this, &MainWindow::showAbout);
  about->setObjectName(QStringLiteral("helpAbout"));
  about->setMenuRole(QAction::AboutRole);
}

// View > CPU math: precise (f32 products, the parity bar) or fast (bf16/int8 dot products),
// saved like the theme and applied when the next model loads; the model panel and About name
// the backend (and so the mode) of the loaded model.
void MainWindow::buildCpuMathMenu(QMenu* view) {
  QMenu* math = view->addMenu(tr("CPU &math"));
  math->menuAction()->setObjectName(QStringLiteral("cpuMathMenu"));
  auto* group = new QActionGroup(this);
  QAction* precise = math->addAction(tr("Precise (f32 products; default)"));
  QAction* fast = math->addAction(tr("Fast (bf16 / int8 dot products on AVX-512 CPUs)"));
  precise->setObjectName(QStringLiteral("cpuMathPrecise"));
  fast->setObjectName(QStringLiteral("cpuMathFast"));
  const QString setting = savedCpuMath();
  m_controller->setCpuMath(setting);
  for (QAction* a : {precise, fast}) {
    a->setCheckable(true);
    group->addAction(a);
    const QString mode = a == fast ? QStringLiteral("fast") : QStringLiteral("precise");
    a->setChecked(effectiveCpuMath(setting) == mode);
    connect(a, &QAction::triggered, this, [this, mode] {
      saveCpuMath(mode);
      m_controller->setCpuMath(mode);
      statusBar()->showMessage(
          m_controller->hasModel()
              ? tr("CPU math: %1 from the next model load (the loaded model runs on %2)")
                    .arg(mode, m_backend)
              : tr("CPU math: %1 from the next model load").arg(mode),
          8000);
    });
  }
}

void MainWindow::showDemosMenu() {
  if (auto* menu = menuBar()->findChild<QMenu*>(QStringLiteral("demosMenu")))
    menuBar()->setActiveAction(menu->menuAction());
}

QString MainWindow::aboutText() const {
  QString version = QCoreApplication::applicationVersion();
  if (version.isEmpty()) version = QStringLiteral(LAYERLENS_VERSION);
  return tr("LayerLens %1\nInspecting transformer language models layer by layer.\n\n"
            "Compute backend: %2\nHeatmaps: %3\nQt %4")
      .arg(version,
           m_backend.isEmpty() ? tr("chosen when a model loads (no model loaded)") : m_backend,
           m_device ? m_device->text() : tr("unknown"), QString::fromLatin1(qVersion()));
}

void MainWindow::showAbout() {
  QMessageBox box(QMessageBox::Information, tr("About LayerLens"), aboutText(), QMessageBox::Ok,
                  this);
  box.setObjectName(QStringLiteral("aboutBox"));
  box.setTextFormat(Qt::PlainText);
  box.exec();
}

void MainWindow::showLoadError(const QString& path, const QString& error) {
  // Non-modal, so it neither blocks the window nor vanishes like a status-bar line; the reason
  // is shown here too, as the model panel may be behind a tab.
  if (!m_loadError) {
    m_loadError = new QMessageBox(QMessageBox::Warning, tr("Could not open model"), QString(),
                                  QMessageBox::Close, this);
    m_loadError->setObjectName(QStringLiteral("loadErrorBox"));
    m_loadError->setAttribute(Qt::WA_DeleteOnClose);
    m_loadError->setModal(false);
    m_loadError->setTextFormat(Qt::PlainText);
  }
  m_loadError->setText(tr("Could not open %1:\n%2\n\n%3")
                           .arg(path, error,
                                m_controller->hasModel() ? tr("The previous model stays loaded.")
                                                         : tr("No model is loaded.")));
  m_loadError->show();
  m_loadError->raise();
}

}  // namespace ll::ui
