// `layerlens`: the GUI entry point (wiring only). --help / --version are answered before any
// QApplication exists, so they work without a display.
#include "ui/main_window.h"

#include <QApplication>
#include <QVulkanInstance>

#include <cstdio>
#include <cstring>

namespace {

void printHelp() {
  std::printf(
      "Usage: layerlens [options] [Qt options]\n"
      "LayerLens: look inside transformer language models while you type.\n\n"
      "Options:\n"
      "  -h, --help     show this help and exit\n"
      "  -v, --version  show the version and exit\n\n"
      "Environment: QT_QPA_PLATFORM selects the window system (xcb, wayland);\n"
      "the attention map needs a Vulkan driver (lavapipe works without a GPU).\n"
      "For scripted use without a display see layerlens-cli.\n");
}

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
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("LayerLens"));
  QApplication::setApplicationVersion(QStringLiteral(LAYERLENS_VERSION));

  QVulkanInstance vulkan;
  vulkan.setApiVersion(QVersionNumber(1, 0));
  if (!vulkan.create())
    std::fprintf(stderr, "layerlens: Vulkan unavailable (%d); heatmaps are disabled\n",
                 static_cast<int>(vulkan.errorCode()));

  ll::ui::MainWindow window(vulkan.isValid() ? &vulkan : nullptr);
  window.show();
  return app.exec();
}
