// `mpirun -np N layerlens-cli run` (layers split over N ranks, runtime/dist) against one process:
// every file of --dump (logits, attention maps, residuals, embeddings, final norm, MoE routing)
// and the printed lines must be byte-identical, plain and under steering and router edits, on
// stories260K and stories260K-moe4 at -np 2 and 3; so must `generate`'s continuation (greedy and
// seeded sampling, steering, router edits). A rank that hangs or is killed mid-run ends the job
// with an error naming it, within the deadline, instead of hanging. Skips with a message when
// mpirun or the CLI's MPI support is absent. (`serve` over ranks: tests/remote/tst_remote_mpi.)
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>

#include "cli_test.h"
#include "runtime/api/npy_io.h"

namespace {

namespace fs = std::filesystem;

// mpirun on this machine: oversubscribed (more ranks than the CI's cores), as root when the tests
// run as root, over shared memory and loopback only (containers have no other network, and may
// forbid the cross-memory-attach single-copy path).
std::string mpirun(int np) {
  int rc = -1;
  const std::string where = clitest::runCapture("command -v mpirun 2>/dev/null", &rc);
  if (rc != 0 || where.empty()) throw lltest::Skip{"mpirun not found (Debian: openmpi-bin)"};
  std::string cmd =
      "OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none "
      "OMPI_MCA_rmaps_base_oversubscribe=1 timeout 120 mpirun --oversubscribe";
  if (getuid() == 0) cmd += " --allow-run-as-root";
  return cmd + " -np " + std::to_string(np) + " ";
}

std::string runMpi(int np, const std::string& args, int* code, const std::string& env = "") {
  return clitest::runMerged(env + mpirun(np) + clitest::cli().string(), args, code);
}

std::string readAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

fs::path tempDir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("ll_mpi_" + std::to_string(getpid()) + "_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// The same dump from one process and from np ranks; every file and the printed line equal.
void compareSplit(const std::string& model, int np, const std::string& extra) {
  LL_REQUIRE_SHARED();
  const fs::path m = lltest::sharedDir() / "models" / model;
  const fs::path base = tempDir("one"), split = tempDir("split");
  const std::string args = "run " + m.string() +
                           " --text 'Once upon a time, a little girl went to the park' "
                           "--threads 1 " +
                           extra + " --dump ";
  int c1 = -1, c2 = -1;
  const std::string one = clitest::runCli(args + base.string(), &c1);
  QVERIFY2(c1 == 0, one);
  const std::string many = runMpi(np, args + split.string(), &c2);
  if (many.find("built without MPI") != std::string::npos)
    throw lltest::Skip{"layerlens-cli was built without MPI (LAYERLENS_MPI, libopenmpi-dev)"};
  QVERIFY2(c2 == 0, many);
  // The ranks really split the layers (N copies of a whole pass would write the same files).
  const std::string plan =
      np == 2 ? "layers split over 2 ranks: 0-1 | 2-4" : "layers split over 3 ranks: 0 | 1-2 | 3-4";
  QVERIFY2(many.find(plan) != std::string::npos, many);
  const std::string summary = one.substr(0, one.find('\n') + 1);  // "MODEL: T tokens, L layers..."
  QVERIFY2(many.find(summary) != std::string::npos, many);
  int files = 0;
  for (const auto& e : fs::directory_iterator(base)) {
    const fs::path other = split / e.path().filename();
    QVERIFY2(fs::exists(other), "missing from the split run: " + e.path().filename().string());
    QVERIFY2(readAll(e.path()) == readAll(other), model + " -np " + std::to_string(np) + " " +
                                                      extra + ": " + e.path().filename().string() +
                                                      " differs from one process");
    ++files;
  }
  QCOMPARE(files, static_cast<int>(std::distance(fs::directory_iterator(split), {})));
  QVERIFY(files > 10);
  fs::remove_all(base);
  fs::remove_all(split);
}

// A command's stdout; its stderr in *err (the split's plan goes there, stdout stays one
// process's).
std::string stdoutOf(const std::string& cmd, int* code, std::string* err) {
  const fs::path dir = tempDir("stderr");
  int rc = -1;
  const std::string out = clitest::runCapture(cmd + " 2>" + (dir / "err.txt").string(), &rc);
  *code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  *err = readAll(dir / "err.txt");
  fs::remove_all(dir);
  return out;
}

// `generate` in one process and over np ranks: the same continuation, byte for byte.
void compareGenerate(const std::string& model, int np, const std::string& extra) {
  LL_REQUIRE_SHARED();
  const fs::path m = lltest::sharedDir() / "models" / model;
  const std::string args = "generate " + m.string() +
                           " --text 'Once upon a time, a little girl' --threads 1 --n 24 "
                           "--no-stop " +
                           extra;
  int c1 = -1, c2 = -1;
  std::string e1, e2;
  const std::string one = stdoutOf(clitest::cli().string() + " " + args, &c1, &e1);
  QVERIFY2(c1 == 0, one + e1);
  const std::string many = stdoutOf(mpirun(np) + clitest::cli().string() + " " + args, &c2, &e2);
  if (e2.find("built without MPI") != std::string::npos)
    throw lltest::Skip{"layerlens-cli was built without MPI (LAYERLENS_MPI, libopenmpi-dev)"};
  QVERIFY2(c2 == 0, many + e2);
  const std::string plan = "layers split over " + std::to_string(np) + " ranks";
  QVERIFY2(e2.find(plan) != std::string::npos, e2);
  // On CPU stages the residual goes through host memory over MPI, and says so.
  QVERIFY2(e2.find("activations between stages: mpi (host memory)") != std::string::npos, e2);
  QVERIFY2(one.size() > 40, one);  // the prompt and 24 tokens
  QVERIFY2(one == many, model + " -np " + std::to_string(np) + " " + extra + "\none process:\n" +
                            one + "\nsplit:\n" + many);
}

// A steering vector file (f32 [n_embd]) for --steer.
std::string steerFile(int nEmbd) {
  const fs::path p = tempDir("steer") / "v.npy";
  std::vector<float> v(static_cast<size_t>(nEmbd));
  for (int i = 0; i < nEmbd; ++i) v[size_t(i)] = std::sin(0.31f * i) * 0.5f;
  ll::rt::writeNpy(p, v.data(), {nEmbd});
  return p.string();
}

}  // namespace

LL_TEST(denseTwoAndThreeRanks) {
  compareSplit("stories260K.gguf", 2, "");
  compareSplit("stories260K.gguf", 3, "");
}

LL_TEST(denseSteeredAtAStageBoundary) {
  // stories260K has 5 layers: -np 2 splits 0-1 | 2-4, -np 3 0 | 1-2 | 3-4; steering layer 1 and 2
  // act on either side of a boundary.
  const std::string v = steerFile(64);
  compareSplit("stories260K.gguf", 2,
               "--steer " + v + " --steer-layer 1 --steer-alpha 4 --steer-from 3");
  compareSplit("stories260K.gguf", 3, "--steer " + v + " --steer-layer 2 --steer-alpha 4");
  fs::remove_all(fs::path(v).parent_path());
}

LL_TEST(moeRoutingAndRouterEdits) {
  compareSplit("stories260K-moe4.gguf", 2, "");
  compareSplit("stories260K-moe4.gguf", 3,
               "--ban-expert 1:0 --force-expert 3:2 --bias-expert 4:1:1.5");
}

LL_TEST(generateDense) {
  compareGenerate("stories260K.gguf", 2, "--greedy");
  compareGenerate("stories260K.gguf", 3, "--seed 7 --temp 0.9 --top-k 20 --top-p 0.95");
  const std::string v = steerFile(64);
  compareGenerate("stories260K.gguf", 3,
                  "--greedy --steer " + v + " --steer-layer 1 --steer-alpha 4 --steer-from 3");
  compareGenerate("stories260K.gguf", 2, "--seed 11 --steer " + v + " --steer-layer 2");
  fs::remove_all(fs::path(v).parent_path());
}

LL_TEST(generateMoeWithRouterEdits) {
  compareGenerate("stories260K-moe4.gguf", 2, "--seed 3 --ban-expert 1:0 --force-expert 3:2");
  compareGenerate("stories260K-moe4.gguf", 3, "--greedy --bias-expert 4:1:1.5");
}

// rank 1 stops answering mid-run: rank 0 gives up after --rank-timeout and ends the job.
LL_TEST(hungRankReportedByRankZero) {
  LL_REQUIRE_SHARED();
  const fs::path m = lltest::sharedDir() / "models" / "stories260K.gguf";
  int code = -1;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string out =
      runMpi(3, "run " + m.string() + " --text 'Once upon a time' --rank-timeout 3", &code,
             "LAYERLENS_TEST_RANK_FAULT=hang:1 ");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (out.find("built without MPI") != std::string::npos)
    throw lltest::Skip{"no MPI in this build"};
  QVERIFY2(code != 0 && code != 124, out);  // 124: the test's own timeout, i.e. a hang
  QVERIFY2(out.find("rank 0: error: rank 1 (layers 1-2)") != std::string::npos, out);
  QVERIFY2(out.find("died or hangs") != std::string::npos, out);
  QVERIFY2(s < 60, "took " + std::to_string(s) + " s");
}

// rank 2 is killed mid-run: the job ends with an error naming it, not a hang.
LL_TEST(killedRankEndsTheJob) {
  LL_REQUIRE_SHARED();
  const fs::path m = lltest::sharedDir() / "models" / "stories260K.gguf";
  int code = -1;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string out =
      runMpi(3, "run " + m.string() + " --text 'Once upon a time' --rank-timeout 5", &code,
             "LAYERLENS_TEST_RANK_FAULT=kill:2 ");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (out.find("built without MPI") != std::string::npos)
    throw lltest::Skip{"no MPI in this build"};
  QVERIFY2(code != 0 && code != 124, out);
  QVERIFY2(out.find("rank 2") != std::string::npos, out);
  QVERIFY2(s < 60, "took " + std::to_string(s) + " s");
}

// LAYERLENS_PIPELINE_TRANSPORT: nccl on CPU stages (or a build without NCCL) is a clear error on
// every rank, never a silent fallback; a bad value too; mpi runs.
LL_TEST(activationTransportSelection) {
  LL_REQUIRE_SHARED();
  const fs::path m = lltest::sharedDir() / "models" / "stories260K.gguf";
  const std::string args = "run " + m.string() + " --text 'Once upon a time' --threads 1";
  int code = -1;
  std::string out = runMpi(2, args, &code, "LAYERLENS_PIPELINE_TRANSPORT=nccl ");
  if (out.find("built without MPI") != std::string::npos)
    throw lltest::Skip{"no MPI in this build"};
  QVERIFY2(code != 0 && code != 124, out);
  QVERIFY2(out.find("error: LAYERLENS_PIPELINE_TRANSPORT=nccl: ") != std::string::npos, out);
  QVERIFY2(out.find("built without NCCL") != std::string::npos ||
               out.find("stage runs on the cpu") != std::string::npos,
           out);
  out = runMpi(2, args, &code, "LAYERLENS_PIPELINE_TRANSPORT=infiniband ");
  QVERIFY2(code != 0 && code != 124, out);
  QVERIFY2(
      out.find("LAYERLENS_PIPELINE_TRANSPORT must be 'mpi', 'nccl' or 'auto'") != std::string::npos,
      out);
  out = runMpi(2, args, &code, "LAYERLENS_PIPELINE_TRANSPORT=mpi ");
  QVERIFY2(code == 0, out);
  QVERIFY2(out.find("activations between stages: mpi (host memory)") != std::string::npos, out);
}

LL_TEST(otherCommandsAreNotSplit) {
  LL_REQUIRE_SHARED();
  const fs::path m = lltest::sharedDir() / "models" / "stories260K.gguf";
  int code = -1;
  const std::string out = runMpi(2, "info " + m.string(), &code);
  if (out.find("built without MPI") != std::string::npos)
    throw lltest::Skip{"no MPI in this build"};
  QVERIFY2(code != 0, out);
  QVERIFY2(out.find("only `run`, `generate` and `serve` are split across MPI ranks") !=
               std::string::npos,
           out);
}

LL_TEST_MAIN("tst_cli_mpi")
