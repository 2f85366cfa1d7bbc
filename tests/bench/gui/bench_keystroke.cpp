// Keystroke latency of the real main window: a character typed at the end of a ~T-token prompt
// until every panel has been given the new snapshot (the fast part: attention, lens, entropy,
// routing, top-k, selection overlay; then the complete one: head grid, continuation, answers from
// the kept tokens). Prints the figures with and without the 150 ms debounce. Not part of ctest.
//
// usage: bench_keystroke [--model PATH] [--tinyllama] [--layers L] [--tokens T] [--threads N]
//                        [--repeat R] [--out DIR]
// Without --model it measures shared/models/stories260K.gguf; --tinyllama writes (once) a
// TinyLlama-1.1B-shaped Q8_0 GGUF with random weights to DIR (as bench_engine does; --layers
// makes a shallower stand-in). Runs on the offscreen QPA without Vulkan unless a window system
// is there (then the heatmaps are live too).
#include "fixture_writer.h"
#include "runtime/api/session.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/main_window.h"
#include "ui/session_controller.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QPlainTextEdit>
#include <QSignalSpy>
#include <QTest>
#include <QVulkanInstance>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

using lltest::TinyLlamaShape;
constexpr int kVocab = TinyLlamaShape::kVocab;

// A story-like text of about `tokens` tokens under the model's tokenizer.
std::string promptOfTokens(const fs::path& model, int tokens) {
  ll::rt::Session s;
  s.load(model);
  const std::string sentence =
      "Once upon a time, there was a little girl named Lily who loved to play in the park with "
      "her dog. ";
  std::string text;
  while (static_cast<int>(s.model().tokenizer->encode(text).ids.size()) < tokens) text += sentence;
  // Trim word by word down to the target.
  while (static_cast<int>(s.model().tokenizer->encode(text).ids.size()) > tokens) {
    const auto cut = text.find_last_of(' ', text.size() - 2);
    if (cut == std::string::npos) break;
    text.resize(cut);
  }
  return text;
}

struct Stats {
  std::vector<double> ms;
  void print(const char* what) const {
    if (ms.empty()) return;
    std::vector<double> v = ms;
    std::sort(v.begin(), v.end());
    std::printf("  %-46s median %8.1f ms  min %8.1f  max %8.1f  (n=%zu)\n", what, v[v.size() / 2],
                v.front(), v.back(), v.size());
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  fs::path model;
  fs::path out = "/tmp/layerlens-bench";
  bool tiny = false;
  int layers = 22, tokens = 512, threads = 2, repeat = 8;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--model")
      model = next();
    else if (a == "--tinyllama")
      tiny = true;
    else if (a == "--layers")
      layers = std::atoi(next().c_str());
    else if (a == "--tokens")
      tokens = std::atoi(next().c_str());
    else if (a == "--threads")
      threads = std::atoi(next().c_str());
    else if (a == "--repeat")
      repeat = std::atoi(next().c_str());
    else if (a == "--out")
      out = next();
  }
  const char* sharedEnv = std::getenv("LAYERLENS_SHARED_DIR");
  const fs::path shared = sharedEnv ? sharedEnv : "/work/shared";
  if (tiny) {
    fs::create_directories(out);
    model = out / ("keystroke-tinyllama-q8_0-L" + std::to_string(layers) + ".gguf");
    if (!fs::exists(model)) {
      std::printf("writing %s ...\n", model.c_str());
      lltest::writeTinyLlamaShaped(model, 8, layers, shared / "models/llama-gqa-f16.gguf");
    }
  } else if (model.empty()) {
    model = shared / "models/stories260K.gguf";
  }
  if (!fs::exists(model)) {
    std::fprintf(stderr, "bench_keystroke: %s not found\n", model.c_str());
    return 1;
  }
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM") && qEnvironmentVariableIsEmpty("DISPLAY"))
    qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  QCoreApplication::setOrganizationName(QStringLiteral("LayerLensBench"));

  const std::string prompt = promptOfTokens(model, tokens);
  QVulkanInstance vk;
  const QString platform = QGuiApplication::platformName();
  const bool useVulkan =
      platform != QLatin1String("offscreen") && platform != QLatin1String("minimal") && vk.create();
  ll::ui::MainWindow w(useVulkan ? &vk : nullptr, nullptr, threads);
  w.resize(1500, 950);
  w.show();
  QElapsedTimer clock;
  clock.start();
  QSignalSpy loaded(w.controller(), &ll::ui::SessionController::modelLoaded);
  QSignalSpy failed(w.controller(), &ll::ui::SessionController::loadFailed);
  w.openModel(QString::fromStdString(model.string()));
  while (loaded.isEmpty() && failed.isEmpty()) QTest::qWait(20);
  if (!failed.isEmpty()) {
    std::fprintf(stderr, "load failed: %s\n", qPrintable(failed.at(0).at(1).toString()));
    return 1;
  }
  const double loadMs = clock.elapsed();
  QPlainTextEdit* edit = w.promptEditor();
  auto settled = [&](const QString& text) {
    const auto s = w.shownSnapshot();
    return s && s->complete && s->state.prompt == text.toStdString() && !w.controller()->busy();
  };
  clock.restart();
  w.setPrompt(QString::fromStdString(prompt));
  while (!settled(edit->toPlainText())) QTest::qWait(5);
  const auto first = w.shownSnapshot();
  std::printf(
      "bench_keystroke: %s\n  %d layers, %d tokens, %d CPU threads, %s; load %.0f ms, "
      "first full analysis %.0f ms\n",
      model.filename().c_str(), first->nLayer, first->nTokens, threads,
      useVulkan ? "Vulkan views live" : "offscreen QPA, no Vulkan (heatmap drawing not timed)",
      loadMs, double(clock.elapsed()));

  Stats core, full, coreNoDebounce, fullNoDebounce, compute;
  const int debounce = 150;
  for (int pass = 0; pass < 2; ++pass) {
    w.setDebounceMs(pass == 0 ? debounce : 0);
    for (int r = 0; r < repeat; ++r) {
      QTextCursor c = edit->textCursor();
      c.movePosition(QTextCursor::End);
      edit->setTextCursor(c);
      edit->setFocus();
      double tCore = -1;
      QMetaObject::Connection conn = QObject::connect(
          &w, &ll::ui::MainWindow::panelsUpdated, [&](const ll::ui::SnapshotPtr& s, bool complete) {
            if (!complete && tCore < 0 && s->state.prompt == edit->toPlainText().toStdString())
              tCore = clock.nsecsElapsed() / 1e6;
          });
      clock.restart();
      QTest::keyClick(edit, r % 2 ? 's' : 'a');
      const QString text = edit->toPlainText();
      while (!settled(text)) QTest::qWait(1);
      const double tFull = clock.nsecsElapsed() / 1e6;
      QObject::disconnect(conn);
      (pass == 0 ? core : coreNoDebounce).ms.push_back(tCore);
      (pass == 0 ? full : fullNoDebounce).ms.push_back(tFull);
      compute.ms.push_back(w.shownSnapshot()->computeMs);
    }
  }
  std::printf("keystroke at the end of the prompt -> panels updated (%d reused rows last time):\n",
              w.shownSnapshot()->reusedRows);
  core.print("fast panels, with the 150 ms debounce");
  full.print("all panels (complete), with the debounce");
  coreNoDebounce.print("fast panels, debounce 0");
  fullNoDebounce.print("all panels (complete), debounce 0");
  compute.print("worker compute per snapshot (core + complete)");
  std::printf("  worker stages of the last keystroke:");
  for (const auto& [name, ms] : w.shownSnapshot()->stageMs)
    std::printf(" %s %.1f ms;", qPrintable(name), ms);
  std::printf("\n");
  std::printf("  UI thread per panel for the last complete snapshot:");
  for (const auto& [id, ms] : w.panelTimes()) std::printf(" %s %.1f ms;", qPrintable(id), ms);
  std::printf("\n");
  return 0;
}
