// `layerlens`: the GUI entry point (wiring only). --help / --version are answered before any
// QApplication exists, so they work without a display.
//   layerlens [MODEL_FILE_OR_HF_FOLDER] [--prompt TEXT] [--threads N] [Qt options]
#include "ui/demo_menu.h"
#include "ui/export_actions.h"
#include "ui/main_window.h"

#include <QApplication>
#include <QVulkanInstance>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

void printHelp() {
  std::printf(
      "Usage: layerlens [MODEL_FILE_OR_HF_FOLDER] [options] [Qt options]\n"
      "LayerLens: look inside transformer language models while you type.\n\n"
      "Arguments:\n"
      "  MODEL_FILE_OR_HF_FOLDER  a GGUF file, a llama2.c .bin or a Hugging Face folder to open\n\n"
      "Options:\n"
      "  --prompt TEXT   start with this prompt\n"
      "  --threads N     CPU backend threads (default: all cores)\n"
      "  -h, --help      show this help and exit\n"
      "  -v, --version   show the version and exit\n\n"
      "Environment: QT_QPA_PLATFORM selects the window system (xcb, wayland);\n"
      "the attention map needs a Vulkan driver (lavapipe works without a GPU).\n"
      "For scripted use without a display see layerlens-cli.\n");
}

struct Args {
  QString model;
  QString prompt;
  bool hasPrompt = false;
  int threads = 0;
};

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      printHelp();
      return 0;
    }
    if (!std::strcmp(argv[i], "--version") || !std::strcmp(argv[i], "-v")) {
      std::printf("layerlens %s\n", LAYERLENS_VERSION);
      return 0;
    }
  }
  QApplication app(argc, argv);  // takes its own options (-platform, ...) out of argv
  QApplication::setApplicationName(QStringLiteral("LayerLens"));
  QApplication::setOrganizationName(QStringLiteral("LayerLens"));
  QApplication::setApplicationVersion(QStringLiteral(LAYERLENS_VERSION));

  Args args;
  const QStringList list = QApplication::arguments();
  for (int i = 1; i < list.size(); ++i) {
    const QString& a = list[i];
    if (a == QLatin1String("--prompt") || a == QLatin1String("--threads")) {
      if (i + 1 >= list.size()) {
        std::fprintf(stderr, "layerlens: %s needs a value\n", qPrintable(a));
        return 2;
      }
      const QString value = list[++i];
      if (a == QLatin1String("--prompt")) {
        args.prompt = value;
        args.hasPrompt = true;
      } else {
        bool ok = false;
        args.threads = value.toInt(&ok);
        if (!ok || args.threads < 0 || args.threads > 1024) {
          std::fprintf(stderr, "layerlens: --threads wants a number, got '%s'\n",
                       qPrintable(value));
          return 2;
        }
      }
    } else if (a.startsWith(QLatin1String("--prompt="))) {
      args.prompt = a.mid(9);
      args.hasPrompt = true;
    } else if (a.startsWith(QLatin1Char('-'))) {
      std::fprintf(stderr, "layerlens: unknown option %s (see --help)\n", qPrintable(a));
      return 2;
    } else if (args.model.isEmpty()) {
      args.model = a;
    } else {
      std::fprintf(stderr, "layerlens: more than one model given (%s)\n", qPrintable(a));
      return 2;
    }
  }

  QVulkanInstance vulkan;
  vulkan.setApiVersion(QVersionNumber(1, 0));
  if (!vulkan.create())
    std::fprintf(stderr, "layerlens: Vulkan unavailable (%d); heatmaps are disabled\n",
                 static_cast<int>(vulkan.errorCode()));

  ll::ui::MainWindow window(vulkan.isValid() ? &vulkan : nullptr, nullptr, args.threads);
  if (args.hasPrompt) window.setPrompt(args.prompt);
  if (!args.model.isEmpty()) window.openModel(args.model);
  ll::ui::installExportActions(&window);
  // Without a model the app opens the built-in demo model on its first guided demo.
  ll::ui::installDemoMenu(&window, args.model.isEmpty(), args.hasPrompt);
  window.show();
  return app.exec();
}
