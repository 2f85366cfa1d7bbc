// `layerlens-cli flow` run as a real process: its JSON has the documented nodes and edges and the
// graph ll::rt::ana::flowGraph gives in this process (stories260K and the MoE fixture, ids as
// given, a chosen threshold and position); bad input ends with a clear message, a nonzero exit
// and no file left behind. Skips when the CLI was not built.
#include <unistd.h>

#include <cmath>
#include <map>
#include <tuple>

#include "cli_test.h"
#include "parity_common.h"
#include "runtime/analysis/flow_routes.h"
#include "runtime/engine/engine.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ll::rt;
using clitest::cli;
using clitest::joinIds;
using clitest::parkIds;
using clitest::runCli;

void checkModel(const std::string& file, const std::string& ref, const std::string& threshold,
                int position) {
  const fs::path model = lltest::sharedDir() / "models" / file;
  const auto ids = parkIds(ref);
  const fs::path out =
      fs::temp_directory_path() / ("tst_cli_flow_" + std::to_string(getpid()) + ".json");
  std::string args = "flow " + model.string() + " --ids " + joinIds(ids) + " --position " +
                     std::to_string(position) + " --threads 2 --out " + out.string();
  if (!threshold.empty()) args += " --threshold " + threshold;
  int code = 0;
  const std::string msg = runCli(args, &code);
  QVERIFY2(code == 0, msg);
  const json j = parity::readJson(out);
  fs::remove(out);

  Session s;
  BackendChoice b;
  b.threads = 2;
  s.load(model, b);
  s.setPromptIds(ids);
  auto tr = s.run();
  ana::FlowRequest rq;
  if (!threshold.empty()) rq.threshold = std::stod(threshold);
  rq.position = position;
  const ana::FlowGraph g = ana::flowGraph(s.engine(), *tr, rq);
  const ana::FlowRoutes r = ana::flowRoutes(g, position);
  const int T = tr->nTokens, L = tr->nLayer;
  QCOMPARE(j["n_tokens"].get<int>(), static_cast<int>(ids.size()));  // no BOS added
  QCOMPARE(j["n_layer"].get<int>(), L);
  QCOMPARE(j["threshold"].get<double>(), rq.threshold);
  QCOMPARE(j["position"].get<int>(), r.position);
  QCOMPARE(j["tokens"].get<std::vector<int32_t>>(), ids);
  QCOMPARE(j["nodes"].size(), size_t(2 * L + 1) * T);
  for (const json& n : j["nodes"]) {
    const int id = n["id"].get<int>(), level = n["level"].get<int>();
    QCOMPARE(id, level * T + n["token"].get<int>());
    QCOMPARE(n["layer"].get<int>(), level / 2);
    const std::string stage = level == 2 * L ? "out" : (level % 2 ? "mid" : "in");
    QCOMPARE(n["stage"].get<std::string>(), stage);
    QVERIFY(std::fabs(n["flow"].get<double>() - r.nodeFlow[size_t(id)]) <= 1e-6);
  }
  QCOMPARE(j["edges"].size(), g.edges.size());
  std::map<std::tuple<int, std::string, int, int>, double> want;
  for (const ana::FlowEdge& e : g.edges)
    want[{e.layer, ana::flowEdgeKindName(e.kind), e.src, e.dst}] = e.weight;
  std::map<std::pair<int, int>, double> sums;  // per destination node
  bool onRoute = false;
  for (const json& e : j["edges"]) {
    const auto key = std::make_tuple(e["layer"].get<int>(), e["kind"].get<std::string>(),
                                     e["src_token"].get<int>(), e["dst_token"].get<int>());
    const auto it = want.find(key);
    QVERIFY(it != want.end());
    QVERIFY(std::fabs(e["weight"].get<double>() - it->second) <= 1e-6);
    const int dst = e["dst"].get<int>(), src = e["src"].get<int>();
    QCOMPARE(dst / T, src / T + 1);  // one level up
    sums[{dst / T, dst % T}] += e["weight"].get<double>();
    onRoute = onRoute || e["flow"].get<double>() > 0;
  }
  for (const auto& [k, v] : sums) QVERIFY(std::fabs(v - 1.0) < 1e-5);
  QVERIFY(onRoute);
}

}  // namespace

LL_TEST(flowJsonMatchesRuntime) {
  LL_REQUIRE_SHARED();
  checkModel("stories260K.gguf", "stories260K", "", -1);
  checkModel("stories260K.gguf", "stories260K", "0.1", 3);
  checkModel("stories260K-moe4.gguf", "stories260K-moe4", "0.02", -2);
}

LL_TEST(flowHelpAndBadInput) {
  LL_REQUIRE_SHARED();
  int code = -1;
  const std::string help = runCli("flow --help", &code);
  QCOMPARE(code, 0);
  for (const char* opt : {"--text", "--ids", "--threshold", "--position", "--out", "edges", "nodes",
                          "attn_resid", "flow"})
    QVERIFY2(help.find(opt) != std::string::npos, opt);
  const std::string model = (lltest::sharedDir() / "models" / "stories260K.gguf").string();
  const std::string out = (fs::temp_directory_path() / "tst_cli_flow_bad.json").string();
  struct Bad {
    std::string args, says;
  };
  const Bad bad[] = {
      {"--ids 1,x,3 --out " + out, "not a token id"},
      {"--ids 1,99999 --out " + out, "out of range"},
      {"--ids 1,2,3 --threshold 1 --out " + out, "outside [0, 1)"},
      {"--ids 1,2,3 --threshold -0.5 --out " + out, "outside [0, 1)"},
      {"--ids 1,2,3 --threshold abc --out " + out, "threshold"},
      {"--ids 1,2,3 --position 3 --out " + out, "position 3 is out of range"},
      {"--ids 1,2,3 --position -4 --out " + out, "out of range"},
      {"--ids 1,2,3", "--out"},
      {"--out " + out, "give --text or --ids"},
      {"--ids 1,2 --out /nonexistent-dir/x.json", "cannot write"},
  };
  for (const Bad& b : bad) {
    const std::string msg = runCli("flow " + model + " " + b.args, &code);
    QVERIFY2(code > 0, b.args + " -> exit " + std::to_string(code) + "\n" + msg);
    QVERIFY2(msg.find(b.says) != std::string::npos, b.args + ": " + msg);
    QVERIFY2(!fs::exists(out), b.args + ": left " + out);
  }
  // Gemma's post-attention norm: refused with the reason.
  const std::string gemma = (lltest::sharedDir() / "models" / "gemma2-tiny.gguf").string();
  const std::string msg = runCli("flow " + gemma + " --ids 1,2,3 --out " + out, &code);
  QVERIFY2(code > 0 && msg.find("post-attention norm") != std::string::npos, msg);
  QVERIFY(!fs::exists(out));
}

LL_TEST_MAIN("tst_cli_flow")
