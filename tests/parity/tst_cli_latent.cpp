// `layerlens-cli latent` run as a real process: its JSON has the contract's keys and shapes and the
// values ll::rt::ana::latentLanguage gives in this process (stories260K, --ids and --text, the last
// and a chosen position); an empty word, a position out of range or a missing --out end with a
// clear message and a nonzero exit, no file left. Skips when the CLI was not built.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>

#include "cli_test.h"
#include "parity_common.h"
#include "runtime/analysis/latent_language.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ll::rt;
using clitest::cli;
using clitest::joinIds;
using clitest::runCli;

std::vector<int32_t> parkIds() {
  return clitest::parkIds("stories260K");
}

fs::path model() {
  return lltest::sharedDir() / "models" / "stories260K.gguf";
}

// Runs `latent` with `prompt` (the CLI's prompt options) and compares with the runtime on `ids`.
void check(const std::string& prompt, const std::vector<int32_t>& ids, int position) {
  const fs::path out =
      fs::temp_directory_path() / ("tst_cli_latent_" + std::to_string(getpid()) + ".json");
  int code = 0;
  const std::string msg = runCli(
      "latent " + model().string() + " " + prompt + " --word-a Lily --word-b They --position " +
          std::to_string(position) + " --threads 2 --out " + out.string(),
      &code);
  QVERIFY2(code == 0, msg);
  const json j = parity::readJson(out);
  fs::remove(out);

  Session s;
  BackendChoice b;
  b.threads = 2;
  s.load(model(), b);
  s.setPromptIds(ids);
  auto tr = s.run();
  ana::LatentLanguageRequest rq;
  rq.wordA = "Lily";
  rq.wordB = "They";
  rq.position = position;
  const auto r = ana::latentLanguage(s.engine(), *tr, *s.model().tokenizer, rq);
  QCOMPARE(j.at("layers").get<int>(), tr->nLayer);
  QCOMPARE(j.at("position").get<int>(), r.position);
  QCOMPARE(j.at("tokens_a").get<std::vector<int32_t>>(), r.tokensA);
  QCOMPARE(j.at("tokens_b").get<std::vector<int32_t>>(), r.tokensB);
  for (const char* key : {"a", "b"}) {
    const auto got = j.at(key).get<std::vector<double>>();
    const auto& want = key[0] == 'a' ? r.a : r.b;
    QCOMPARE(got.size(), size_t(tr->nLayer + 1));
    for (size_t i = 0; i < got.size(); ++i)
      QVERIFY2(std::fabs(got[i] - want[i]) <= 1e-9 + 1e-6 * want[i], key);
  }
}

}  // namespace

LL_TEST(latentJsonMatchesRuntime) {
  LL_REQUIRE_SHARED();
  const auto ids = parkIds();
  check("--ids " + joinIds(ids), ids, -1);
  check("--ids " + joinIds(ids), ids, 3);
  // --text: the reference prompt with the vocabulary's default BOS gives the same ids.
  const auto j =
      parity::readJson(lltest::sharedDir() / "reference" / "stories260K" / "park" / "tokens.json");
  check("--text '" + j["prompt"].get<std::string>() + "'", ids, 5);
}

LL_TEST(latentHelpAndBadInput) {
  LL_REQUIRE_SHARED();
  int code = -1;
  const std::string help = runCli("latent --help", &code);
  QCOMPARE(code, 0);
  for (const char* opt : {"--text", "--ids", "--word-a", "--word-b", "--position", "--out"})
    QVERIFY2(help.find(opt) != std::string::npos, opt);
  const std::string m = model().string();
  const std::string out =
      (fs::temp_directory_path() / ("tst_cli_latent_bad_" + std::to_string(getpid()) + ".json"))
          .string();
  struct Bad {
    std::string args, says;
  };
  const Bad bad[] = {
      {"--ids 1,2,3 --word-a '' --word-b They --out " + out, "must not be empty"},
      {"--ids 1,2,3 --word-a Lily --word-b '' --out " + out, "must not be empty"},
      {"--ids 1,2,3 --word-a ' ' --word-b They --out " + out, "has no token"},
      {"--ids 1,2,3 --word-a Lily --word-b They --position 3 --out " + out,
       "position 3 is out of range"},
      {"--ids 1,2,3 --word-a Lily --word-b They --position -2 --out " + out, "out of range"},
      {"--ids 1,2,3 --word-a Lily --word-b They", "--out"},
      {"--ids 1,2,3 --word-b They --out " + out, "--word-a"},
      {"--word-a Lily --word-b They --out " + out, "--text or --ids"},
  };
  for (const Bad& b : bad) {
    const std::string msg = runCli("latent " + m + " " + b.args, &code);
    QVERIFY2(code > 0, b.args + " -> exit " + std::to_string(code) + "\n" + msg);
    QVERIFY2(msg.find(b.says) != std::string::npos, b.args + ": " + msg);
    QVERIFY2(!fs::exists(out), b.args + ": left " + out);
  }
}

LL_TEST_MAIN("tst_cli_latent")
