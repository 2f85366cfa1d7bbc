// Session files: save/load round trip, atomic replacement that survives a SIGKILL in the middle of
// a save, and clear errors for corrupt, foreign and newer-version files.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "lltest.h"
#include "runtime/api/session_file.h"

namespace fs = std::filesystem;
using namespace ll::rt;

namespace {

fs::path tempDir() {
  static const fs::path d = [] {
    const fs::path p = fs::temp_directory_path() / ("ll_session_" + std::to_string(getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
  }();
  return d;
}

SessionState sampleState(int variant) {
  SessionState s;
  s.modelPath = "models/demo.gguf";
  s.prompt = "Once upon a time \"quoted\", tab\t, newline\n, \xc3\xa9 " + std::to_string(variant);
  s.addBos = 1;
  s.backend = "cpu:2";
  s.interventions.steering.push_back({1, 2.5f, 3, {0.1f, -0.2f, 1e-7f, 3.25f}});
  s.interventions.router.push_back({1, 2, RouterEditKind::BiasStd, 0.75f});
  s.interventions.router.push_back({0, 3, RouterEditKind::Ban, 0.0f});
  s.interventions.knockout = Knockout{{5, 6}, {1, 2, 3}, 0, 2};
  SelectionRecord r;
  r.method = "gemfilter";
  r.params = {{"k", "3"}, {"layer", "1"}, {"kernel", "5"}};
  r.model = "demo.gguf";
  r.promptHash = promptHash(s.prompt);
  r.tokens.push_back({0, 1, "<s>", -1, -1, 0.0f, true});
  r.tokens.push_back({1, 300, "\xe2\x96\x81O", 0, 1, 1.5f, false});
  r.tokens.push_back({2, 4, std::string("\xc3", 1), 2, 3, -2.25f, true});  // lone byte token
  s.selections.push_back(r);
  s.view.activeView = "lens";
  s.view.layer = 1;
  s.view.head = -1;
  s.view.method = "final-norm";
  s.view.k = 8;
  s.view.openPanels = {"attention", "lens"};
  s.view.extra = {{"colormap", "viridis"}, {"zoom", "2"}};
  return s;
}

void writeText(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}

std::string loadError(const fs::path& p) {
  try {
    loadSession(p);
  } catch (const SessionFileError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

LL_TEST(roundTrip) {
  const fs::path p = tempDir() / "a.llsession";
  const SessionState s = sampleState(1);
  saveSession(p, s);
  const SessionState back = loadSession(p);
  QVERIFY(back == s);
  QCOMPARE(back.selections[0].tokens[2].piece, std::string("\xc3", 1));
  // Saving over an existing file replaces it and leaves no temporary files behind.
  saveSession(p, sampleState(2));
  QVERIFY(loadSession(p) == sampleState(2));
  int files = 0;
  for (const auto& e : fs::directory_iterator(tempDir()))
    files += e.path().filename().string().find("a.llsession") != std::string::npos;
  QCOMPARE(files, 1);
}

LL_TEST(previousSaveSurvivesKillDuringSave) {
  const fs::path p = tempDir() / "killed.llsession";
  const fs::path marker = tempDir() / "child-paused";
  saveSession(p, sampleState(1));
  const pid_t child = fork();
  QVERIFY(child >= 0);
  if (child == 0) {
    setSessionSaveHookForTests([&](const fs::path&) {
      std::ofstream(marker) << "paused";
      for (;;) pause();  // killed here: written and synced, not yet renamed
    });
    SessionState big = sampleState(2);
    big.interventions.steering[0].vector.assign(200000, 0.5f);
    saveSession(p, big);
    _exit(0);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(marker) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const bool paused = fs::exists(marker);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  QVERIFY2(paused, "the child never reached the save hook");
  QVERIFY(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  // The old session is intact and parseable; the new one sits in a temporary file.
  QVERIFY(loadSession(p) == sampleState(1));
  int temps = 0;
  for (const auto& e : fs::directory_iterator(tempDir()))
    temps += e.path().filename().string().rfind(".killed.llsession.tmp-", 0) == 0;
  QCOMPARE(temps, 1);
  // A later save still works.
  saveSession(p, sampleState(3));
  QVERIFY(loadSession(p) == sampleState(3));
}

LL_TEST(errorsNameTheFileAndTheProblem) {
  const fs::path p = tempDir() / "bad.llsession";
  QVERIFY(loadError(tempDir() / "missing.llsession").find("missing.llsession") !=
          std::string::npos);

  saveSession(p, sampleState(1));
  std::ifstream in(p, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  writeText(p, text.substr(0, text.size() / 2));  // truncated by a crash without atomic save
  std::string err = loadError(p);
  QVERIFY2(
      err.find("bad.llsession") != std::string::npos && err.find("corrupt") != std::string::npos,
      err);

  writeText(p, R"({"format": "layerlens-session", "version": 7, "model": "m", "prompt": "p"})");
  err = loadError(p);
  QVERIFY2(err.find("newer") != std::string::npos && err.find("7") != std::string::npos, err);

  writeText(p, R"({"format": "something-else", "version": 1})");
  QVERIFY(loadError(p).find("not a LayerLens session") != std::string::npos);

  writeText(p, R"({"format": "layerlens-session", "version": 1, "model": 5, "prompt": "p"})");
  QVERIFY(loadError(p).find("corrupt") != std::string::npos);

  writeText(p, R"({"format": "layerlens-session", "version": 1, "model": "m", "prompt": "p",
                   "interventions": {"router": [{"layer": 0, "expert": 1, "kind": "zap"}]}})");
  QVERIFY(loadError(p).find("zap") != std::string::npos);

  // Older-but-valid minimal file: defaults fill the rest.
  writeText(p, R"({"format": "layerlens-session", "version": 1, "model": "m", "prompt": "p"})");
  const SessionState s = loadSession(p);
  QCOMPARE(s.modelPath, std::string("m"));
  QCOMPARE(s.view.activeView, std::string("attention"));
}

// Random corruption (byte flips, truncation, inserted junk) gives a SessionFileError or a valid
// state, never another exception type or a crash.
LL_TEST(corruptedFilesFailCleanly) {
  const fs::path p = tempDir() / "fuzz.llsession";
  saveSession(p, sampleState(4));
  std::ifstream in(p, std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(in)), {});
  std::mt19937 rng(1234);
  int refused = 0, accepted = 0;
  for (int iter = 0; iter < 400; ++iter) {
    std::string bad = good;
    switch (iter % 3) {
      case 0:
        for (int k = 0; k < 1 + int(rng() % 4); ++k) bad[rng() % bad.size()] = char(rng() % 256);
        break;
      case 1:
        bad.resize(rng() % bad.size());
        break;
      default:
        bad.insert(rng() % bad.size(), std::string(1 + rng() % 5, "{}[]\",:1e9-"[rng() % 12]));
    }
    writeText(p, bad);
    try {
      loadSession(p);
      ++accepted;
    } catch (const SessionFileError& e) {
      QVERIFY(std::string(e.what()).find("fuzz.llsession") != std::string::npos);
      ++refused;
    }
  }
  QVERIFY(refused > 200);
  std::printf("corrupted sessions: %d refused with a message, %d still valid\n", refused, accepted);
}

LL_TEST_MAIN("tst_session_file")
