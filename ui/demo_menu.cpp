// Demos menu: presets from :/demos/, models resolved through
// runtime/demo/demo_presets.h.
#include "ui/demo_menu.h"

#include <QAction>
#include <QDir>
#include <QDockWidget>
#include <QFileInfo>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QStandardPaths>
#include <QTextBrowser>
#include <algorithm>

#include "resources/demos/demo_resources.h"
#include "runtime/demo/demo_presets.h"
#include "ui/main_window.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"

namespace ll::ui {

namespace {

class DemoMenu : public QObject {
 public:
  explicit DemoMenu(MainWindow* w) : QObject(w), m_window(w) {
    // The guide describes its demo only: once anything else has loaded (a model, a session,
    // another preset's model through a session file), it leaves.
    connect(w, &MainWindow::modelRequested, this, [this] { m_requestIsDemo = m_opening; });
    connect(w->controller(), &SessionController::modelLoaded, this, [this](const ModelInfo& info) {
      if (!m_requestIsDemo) retireGuide(info.name);
    });
  }

  void build() {
    // Before Help, which stays the last menu.
    QAction* help = nullptr;
    for (QAction* a : m_window->menuBar()->actions())
      if (a->objectName() == QLatin1String("helpMenu")) help = a;
    auto* menu = new QMenu(tr("&Demos"), m_window->menuBar());
    menu->setObjectName(QStringLiteral("demosMenu"));  // Help > Guided demos opens it
    menu->setToolTipsVisible(true);                    // a disabled demo's tooltip says why
    m_window->menuBar()->insertMenu(help, menu);
    for (const QString& file : demos::embeddedPresetFiles()) {
      try {
        rt::demo::DemoPreset p = rt::demo::parseDemoPreset(
            demos::embeddedText(file).toStdString(),
            QFileInfo(file).completeBaseName().toStdString(), file.toStdString());
        p.teacherText = demos::embeddedText(QString::fromStdString(p.teacherFile)).toStdString();
        m_presets.push_back(std::move(p));
      } catch (const std::exception& e) {
        QAction* a = menu->addAction(QFileInfo(file).completeBaseName() + tr(" (broken)"));
        a->setEnabled(false);
        a->setToolTip(QString::fromStdString(e.what()));
      }
    }
    std::stable_sort(m_presets.begin(), m_presets.end(), [](const auto& x, const auto& y) {
      return x.order != y.order ? x.order < y.order : x.id < y.id;
    });
    for (size_t i = 0; i < m_presets.size(); ++i) {
      const auto& p = m_presets[i];
      QAction* a = menu->addAction(QString::fromStdString(p.title));
      if (!resolve(p, false)) {
        // Said in the item itself too: a disabled item's tooltip is easy to miss.
        const QString model = QFileInfo(QString::fromStdString(p.session.modelPath)).fileName();
        a->setEnabled(false);
        a->setText(tr("%1 (needs %2)").arg(a->text(), model));
        const QString why = unavailableReason(p);
        a->setToolTip(why);
        a->setStatusTip(why);
      }
      connect(a, &QAction::triggered, this, [this, i] { open(m_presets[i], true); });
    }
    menu->addSeparator();
    menu->addAction(tr("Open the built-in demo model"), this, [this] {
      if (auto p = rt::demo::resolveDemoModel(rt::demo::kBuiltinModel,
                                              demoModelCacheDir().toStdString(), {}))
        m_window->openModel(QString::fromStdString(p->string()));
    });
  }

  // Why a preset's model cannot be opened: which model, where it was looked for, what to do.
  static QString unavailableReason(const rt::demo::DemoPreset& p) {
    QStringList dirs;
    for (const auto& d : rt::demo::defaultSharedDirs())
      dirs << QDir::cleanPath(QDir::current().absoluteFilePath(QString::fromStdString(d.string())));
    QString model = QString::fromStdString(p.session.modelPath);
    if (model.startsWith(QLatin1String("shared:"))) model = model.mid(7);  // relative to the folder
    return tr("This demo needs the model %1 from the shared models folder, which was not found "
              "(looked in %2). Set LAYERLENS_SHARED_DIR to the folder holding models/, or open "
              "%3 with File > Open model.")
        .arg(model, dirs.join(QStringLiteral(", ")), QFileInfo(model).fileName());
  }

  void openFirst(bool keepPrompt) {
    if (!m_presets.empty()) open(m_presets.front(), !keepPrompt);
  }

 private:
  std::optional<std::filesystem::path> resolve(const rt::demo::DemoPreset& p, bool write) {
    if (p.session.modelPath == rt::demo::kBuiltinModel && !write)
      return std::filesystem::path(rt::demo::kBuiltinModel);  // always available
    return rt::demo::resolveDemoModel(p.session.modelPath, demoModelCacheDir().toStdString(),
                                      rt::demo::defaultSharedDirs());
  }

  void open(const rt::demo::DemoPreset& p, bool setPrompt) {
    try {
      const auto model = resolve(p, true);
      if (!model) {
        QMessageBox::warning(m_window, tr("Demos"),
                             tr("This demo needs %1, which was not found.")
                                 .arg(QString::fromStdString(p.session.modelPath)));
        return;
      }
      // Every intervention of the preset (router edits, knockout, selection, steering) goes
      // into the panels once the model has loaded.
      m_opening = true;
      m_window->applySessionDocument(p.session, QString::fromStdString(model->string()), setPrompt);
      m_opening = false;
      showTeacherText(p);
    } catch (const std::exception& e) {
      QMessageBox::warning(m_window, tr("Demos"), QString::fromStdString(e.what()));
    }
  }

  void showTeacherText(const rt::demo::DemoPreset& p) {
    if (!m_guide) {
      m_guide = new QDockWidget(tr("Demo guide"), m_window);
      m_guide->setObjectName("demo-guide");
      m_text = new QTextBrowser(m_guide);
      m_text->setOpenExternalLinks(false);
      m_guide->setWidget(m_text);
      // Where the user last put it: the window restored its saved layout before this dock
      // existed, and Qt kept the guide's place for restoreDockWidget.
      if (!m_window->restoreDockWidget(m_guide))
        m_window->addDockWidget(Qt::RightDockWidgetArea, m_guide);
    }
    m_retired = false;
    m_text->setMarkdown(QString::fromStdString(p.teacherText));
    m_guide->setWindowTitle(tr("Demo guide: %1").arg(QString::fromStdString(p.title)));
    m_guide->show();
    m_guide->raise();
  }

  // Another model or session replaced the demo: the guide hides, and says so if reopened.
  void retireGuide(const QString& modelName) {
    if (!m_guide || m_retired) return;
    m_retired = true;
    m_text->setMarkdown(
        tr("*This guide applies to its demo only; the window now shows %1.*\n\n").arg(modelName) +
        m_text->toMarkdown());
    m_guide->setWindowTitle(tr("Demo guide (demo only)"));
    m_guide->hide();
  }

  MainWindow* m_window;
  std::vector<rt::demo::DemoPreset> m_presets;
  QDockWidget* m_guide = nullptr;
  QTextBrowser* m_text = nullptr;
  bool m_opening = false;       // inside open(): the model requested is the demo's
  bool m_requestIsDemo = true;  // the latest model request came from a demo
  bool m_retired = false;       // the guide was hidden for another model
};

}  // namespace

QString demoModelCacheDir() {
  QString dir = QStandardPaths::writableLocation(QStandardPaths::CacheLocation);
  if (dir.isEmpty()) dir = QStandardPaths::writableLocation(QStandardPaths::TempLocation);
  return dir + "/layerlens";
}

void installDemoMenu(MainWindow* window, bool openDemoNow, bool keepPrompt) {
  auto* menu = new DemoMenu(window);
  menu->build();
  if (openDemoNow) menu->openFirst(keepPrompt);
}

}  // namespace ll::ui
