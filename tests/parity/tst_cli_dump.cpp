// `layerlens-cli run --dump` writes the reference layout: run the built CLI on a MoE fixture and
// compare every file it writes with shared/reference (names, shapes, values at f32 tolerances).
// `generate --greedy` must print the reference story. Skips when the CLI was not built.
#include <unistd.h>

#include <array>
#include <cstdio>

#include "cli_process.h"
#include "parity_common.h"

namespace {

using clitest::cliPath;
using clitest::runCapture;

}  // namespace

LL_TEST(runDumpMatchesReference) {
  const auto shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("no shared data");
  const auto cli = cliPath();
  if (cli.empty()) QSKIP("layerlens-cli not built next to the tests");
  const auto dir =
      std::filesystem::temp_directory_path() / ("ll_cli_dump_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  int rc = -1;
  const std::string cmd = cli.string() + " run " + (shared / "models/olmoe-tiny.gguf").string() +
                          " --text 'Once upon a time' --threads 2 --dump " + dir.string() + " 2>&1";
  auto out = runCapture(cmd, &rc);
  QVERIFY2(rc == 0, out);
  const auto ref = shared / "reference/olmoe-tiny/once";
  auto tj = parity::readJson(dir / "tokens.json");
  auto rj = parity::readJson(ref / "tokens.json");
  QCOMPARE(tj["ids"], rj["ids"]);
  QCOMPARE(tj["pieces"], rj["pieces"]);
  int compared = 0;
  for (const auto& e : std::filesystem::directory_iterator(ref)) {
    const auto name = e.path().filename().string();
    if (e.path().extension() != ".npy") continue;
    QVERIFY2(std::filesystem::exists(dir / name), "missing " + name);
    auto a = lltest::readNpy(dir / name);
    auto b = lltest::readNpy(e.path());
    QCOMPARE(a.shape, b.shape);
    QCOMPARE(a.dtype, b.dtype);
    if (a.dtype == "<i4") {
      QCOMPARE(a.i32, b.i32);
    } else {
      const double d = parity::maxAbsDiff(a.f32.data(), b.f32, b.f32.size());
      QVERIFY2(d <= 1e-3, name + " differs by " + std::to_string(d));
    }
    ++compared;
  }
  QVERIFY(compared >= 12);
  std::filesystem::remove_all(dir);
  // bad flags give an error, not a crash
  auto bad = runCapture(cli.string() + " run " + (shared / "models/olmoe-tiny.gguf").string() +
                            " --ids 1,2,99999 2>&1",
                        &rc);
  QVERIFY(rc != 0);
  QVERIFY2(bad.find("out of range") != std::string::npos, bad);
  bad = runCapture(cli.string() + " run " + (shared / "models/olmoe-tiny.gguf").string() +
                       " --text hi --ban-expert 0:8 2>&1",
                   &rc);
  QVERIFY(rc != 0);
  QVERIFY2(bad.find("out of range") != std::string::npos, bad);
}

LL_TEST(generatePrintsReferenceStory) {
  const auto shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("no shared data");
  const auto cli = cliPath();
  if (cli.empty()) QSKIP("layerlens-cli not built next to the tests");
  int rc = -1;
  auto out =
      runCapture(cli.string() + " generate " + (shared / "models/stories260K.gguf").string() +
                     " --text 'Once upon a time' --n 32 --greedy --no-stop --threads 2",
                 &rc);
  QCOMPARE(rc, 0);
  auto gen = parity::readJson(shared / "reference/stories260K/once/generate.json");
  QCOMPARE(out, "Once upon a time" + gen["text"].get<std::string>() + "\n");
}

LL_TEST_MAIN("tst_cli_dump")
