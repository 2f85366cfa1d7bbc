// `layerlens`: the GUI entry point (wiring only). --help / --version are answered before any
// QApplication exists, so they work without a display.
//   layerlens [MODEL_FILE_OR_HF_FOLDER] [--prompt TEXT] [--threads N] [Qt options]
//   layerlens --connect HOST:PORT --model PATH [--token-file F] [--tls-ca F] (a server's model)
#include "ui/demo_menu.h"
#include "ui/export_actions.h"
#include "ui/main_window.h"
#include "ui/remote_job.h"

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
      "  --connect HOST:PORT  attach to a `layerlens-cli serve` server (File > Connect to server)\n"
      "  --model PATH    with --connect: the model on the server, under its --models folder\n"
      "  --token-file F  with --connect: the server's shared secret\n"
      "  --tls-ca F      with --connect: TLS, the server's certificate checked against this CA\n"
      "  -h, --help      show this help and exit\n"
      "  -v, --version   show the version and exit\n\n"
      "Environment: QT_QPA_PLATFORM selects the window system (xcb, wayland);\n"
      "the attention map needs a Vulkan driver (lavapipe works without a GPU).\n"
      "For scripted use without a display see layerlens-cli.\n");
}

struct Args {
  QString model;
  QString connect, remoteModel, tokenFile, tlsCa;
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
    static const QStringList kValued = {"--prompt", "--threads",    "--connect",
                                        "--model",  "--token-file", "--tls-ca"};
    if (kValued.contains(a)) {
      if (i + 1 >= list.size()) {
        std::fprintf(stderr, "layerlens: %s needs a value\n", qPrintable(a));
        return 2;
      }
      const QString value = list[++i];
      if (a == QLatin1String("--connect")) {
        args.connect = value;
      } else if (a == QLatin1String("--model")) {
        args.remoteModel = value;
      } else if (a == QLatin1String("--token-file")) {
        args.tokenFile = value;
      } else if (a == QLatin1String("--tls-ca")) {
        args.tlsCa = value;
      } else if (a == QLatin1String("--prompt")) {
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

  ll::ui::RemoteTarget remote;
  if (!args.connect.isEmpty()) {
    const qsizetype colon = args.connect.lastIndexOf(QLatin1Char(':'));
    bool ok = false;
    remote.port = colon > 0 ? args.connect.mid(colon + 1).toInt(&ok) : 0;
    if (!ok || remote.port < 1 || remote.port > 65535) {
      std::fprintf(stderr, "layerlens: --connect wants HOST:PORT, got '%s'\n",
                   qPrintable(args.connect));
      return 2;
    }
    remote.host = args.connect.left(colon);
    if (remote.host.startsWith(QLatin1Char('[')) && remote.host.endsWith(QLatin1Char(']')))
      remote.host = remote.host.mid(1, remote.host.size() - 2);  // [IPv6]
    remote.model = args.remoteModel;
    remote.tokenFile = args.tokenFile;
    remote.caFile = args.tlsCa;
    if (remote.model.isEmpty() || !args.model.isEmpty()) {
      std::fprintf(stderr,
                   "layerlens: --connect needs --model PATH (the model on the server) "
                   "and no local model\n");
      return 2;
    }
  } else if (!args.remoteModel.isEmpty() || !args.tokenFile.isEmpty() || !args.tlsCa.isEmpty()) {
    std::fprintf(stderr, "layerlens: --model, --token-file and --tls-ca go with --connect\n");
    return 2;
  }

  QVulkanInstance vulkan;
  vulkan.setApiVersion(QVersionNumber(1, 0));
  if (!vulkan.create())
    std::fprintf(stderr, "layerlens: Vulkan unavailable (%d); heatmaps are disabled\n",
                 static_cast<int>(vulkan.errorCode()));

  ll::ui::MainWindow window(vulkan.isValid() ? &vulkan : nullptr, nullptr, args.threads);
  if (args.hasPrompt) window.setPrompt(args.prompt);
  if (!args.model.isEmpty()) window.openModel(args.model);
  if (!args.connect.isEmpty()) window.connectToServer(remote);
  const bool noModel = args.model.isEmpty() && args.connect.isEmpty();
  ll::ui::installExportActions(&window);
  // Without a model the app opens the built-in demo model on its first guided demo.
  ll::ui::installDemoMenu(&window, noModel, args.hasPrompt);
  window.show();
  return app.exec();
}
