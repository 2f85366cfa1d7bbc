// Keystroke latency of the real main window: a character typed at the end of a ~T-token prompt
// until every analysis panel has been given the new snapshot (attention map, head grid, lens,
// entropy, routing, top-k, selection overlay: the prefix-reused forward pass), then until each
// generation-based output has streamed in after them (continuation, answer from the kept tokens,
// steering continuations when on). Prints the figures with and without the 150 ms debounce, and
// the load average beside them (the machine is shared). Not part of ctest.
//
// usage: bench_keystroke [--model PATH] [--tinyllama] [--layers L] [--tokens T] [--threads N]
//                        [--repeat R] [--out DIR] [--steering]
// Without --model it measures shared/models/stories260K.gguf; --tinyllama writes (once) a
// TinyLlama-1.1B-shaped Q8_0 GGUF with random weights to DIR (as bench_engine does; --layers
// makes a shallower stand-in). Runs on the offscreen QPA without Vulkan unless a window system
// is there (then the heatmaps are live too).
#include "fixture_writer.h"
#include "runtime/api/session.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/main_window.h"
#include "ui/session_controller.h"
#include "ui/steering_panel.h"

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
#include <fstream>
#include <map>
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
    std::printf("  %-72s median %8.1f ms  min %8.1f  max %8.1f  (n=%zu)\n", what, v[v.size() / 2],
                v.front(), v.back(), v.size());
  }
};

std::string loadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a.empty() ? std::string("unknown") : a + " " + b + " " + c;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  fs::path model;
  fs::path out = "/tmp/layerlens-bench";
  bool tiny = false;
  int layers = 22, tokens = 512, threads = 2, repeat = 8;
  bool steering = false;
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
    else if (a == "--steering")
      steering = true;
  }
  const char* sharedEnv = std::getenv("LAYERLENS_SHARED_DIR");
  const fs::path shared = sharedEnv ? sharedEnv : LAYERLENS_DEFAULT_SHARED_DIR;
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
  QObject::connect(
      w.controller(), &ll::ui::SessionController::analysisFailed,
      [](const QString& e) { std::fprintf(stderr, "analysis failed: %s\n", qPrintable(e)); });
  QPlainTextEdit* edit = w.promptEditor();
  auto settled = [&](const QString& text) {
    const auto s = w.shownSnapshot();
    return s && s->complete && s->state.prompt == text.toStdString() && !w.controller()->busy();
  };
  std::printf("load average before the run: %s\n", loadAverage().c_str());
  clock.restart();
  w.setPrompt(QString::fromStdString(prompt));
  while (!settled(edit->toPlainText())) QTest::qWait(5);
  const auto first = w.shownSnapshot();
  // The first analysis of the prompt is a full prefill (nothing in common with the start text).
  double prefillMs = 0;
  for (const auto& [name, ms] : first->stageMs)
    if (name == QLatin1String("forward pass")) prefillMs = ms;
  std::printf(
      "bench_keystroke: %s\n  %d layers, %d tokens, %d CPU threads, %s; load %.0f ms, "
      "first full analysis %.0f ms\n",
      model.filename().c_str(), first->nLayer, first->nTokens, threads,
      useVulkan ? "Vulkan views live" : "offscreen QPA, no Vulkan (heatmap drawing not timed)",
      loadMs, double(clock.elapsed()));

  if (steering) {
    // Steering on with a concept vector: its continuations stream in after the answers.
    ll::ui::SteeringSettings st;
    st.enabled = true;
    st.conceptWord = "dog";
    st.baselines = {"cat", "park", "girl"};
    w.steeringPanel()->applyState(st);
    emit w.steeringPanel()->settingsChanged();
    while (!settled(edit->toPlainText())) QTest::qWait(5);
  }

  // Per pass (debounce, no debounce): the panels' figure, then each streamed output's.
  std::map<std::string, Stats> figures[2];
  QList<QPair<QString, double>> panelTimes;
  std::vector<std::string> order[2];
  Stats compute;
  const int debounce = 150;
  for (int pass = 0; pass < 2; ++pass) {
    w.setDebounceMs(pass == 0 ? debounce : 0);
    for (int r = 0; r < repeat; ++r) {
      // Each key after a pause in typing (the debounce interval has passed since the last one).
      while (w.debouncePending()) QTest::qWait(1);
      QTextCursor c = edit->textCursor();
      c.movePosition(QTextCursor::End);
      edit->setTextCursor(c);
      edit->setFocus();
      std::vector<std::pair<std::string, double>> seen;
      QMetaObject::Connection conn = QObject::connect(
          &w, &ll::ui::MainWindow::panelsUpdated, [&](const ll::ui::SnapshotPtr& s, bool) {
            if (s->state.prompt != edit->toPlainText().toStdString()) return;
            std::string name = ll::ui::outputName(s->streamed).toStdString();
            if (s->streamed == ll::ui::StreamedOutput::None) {
              name = "analysis panels (attention, head grid, lens, entropy, routing, top-k)";
              panelTimes = w.panelTimes();
            } else
              name = "  then streamed: " + name + (s->complete ? " (last)" : "");
            seen.emplace_back(name, clock.nsecsElapsed() / 1e6);
          });
      clock.restart();
      QTest::keyClick(edit, r % 2 ? 's' : 'a');
      const QString text = edit->toPlainText();
      while (!settled(text)) QTest::qWait(1);
      QObject::disconnect(conn);
      for (const auto& [name, ms] : seen) {
        if (!figures[pass].count(name)) order[pass].push_back(name);
        figures[pass][name].ms.push_back(ms);
      }
      compute.ms.push_back(w.shownSnapshot()->computeMs);
    }
  }
  std::printf("keystroke at the end of the prompt -> panels updated (%d reused rows last time)\n",
              w.shownSnapshot()->reusedRows);
  std::printf("  load average (1, 5, 15 min) after the run: %s\n", loadAverage().c_str());
  for (int pass = 0; pass < 2; ++pass) {
    std::printf(pass == 0 ? " with the %d ms debounce (each key after a pause in typing; the first "
                            "edit of a burst runs at once):\n"
                          : " debounce 0:\n",
                debounce);
    for (const auto& name : order[pass]) figures[pass][name].print(name.c_str());
  }
  compute.print("worker compute per keystroke (panels + streamed)");
  if (prefillMs > 500) {  // the 10% target is for long prompts on large models
    std::printf("  full prefill of the prompt (first analysis, %d reused rows): %.1f ms\n",
                first->reusedRows, prefillMs);
    for (int pass = 0; pass < 2; ++pass)
      for (const auto& name : order[pass]) {
        std::vector<double> v = figures[pass][name].ms;
        std::sort(v.begin(), v.end());
        if (name.rfind("analysis panels", 0) == 0)
          std::printf("  analysis panels / full prefill (%s): %.1f%%\n",
                      pass == 0 ? "with debounce" : "debounce 0",
                      100.0 * v[v.size() / 2] / prefillMs);
      }
  }
  std::printf("  worker stages of the last keystroke:");
  for (const auto& [name, ms] : w.shownSnapshot()->stageMs)
    std::printf(" %s %.1f ms;", qPrintable(name), ms);
  std::printf("\n");
  std::printf("  UI thread per panel for the last analysis panels' snapshot:");
  for (const auto& [id, ms] : panelTimes) std::printf(" %s %.1f ms;", qPrintable(id), ms);
  std::printf("\n");
  std::printf("  UI thread per panel for the last streamed snapshot:");
  for (const auto& [id, ms] : w.panelTimes()) std::printf(" %s %.1f ms;", qPrintable(id), ms);
  std::printf("\n");
  return 0;
}
