// Engine benchmark on a TinyLlama-1.1B-shaped model with random weights (22 layers, d 2048,
// 32 heads / 4 KV heads, FFN 5632, vocab 32000) written as F16 and Q8_0 GGUFs to /tmp with our own
// GGUF writer (tokenizer metadata copied from shared/models/llama-gqa-f16.gguf). Prints the f32
// GEMM rate of the engine's product, of its library (kern::sgemmLibrary) and of Eigen, then prefill
// tokens/s with full capture and with capture off, the update time after changing the last word
// (prefix reuse), and peak RSS against file size + KV cache, for each weight type in each CPU math
// mode (precise, and fast: bf16 / int8 dot products), then a summary beside llama.cpp's pp451.
// Not part of ctest.
//
// usage: bench_engine [--threads N] [--tokens T] [--types F16,Q8_0] [--math precise,fast]
// [--layers L] [--repeat R] [--out DIR] [--llama F16=TOK_S,Q8_0=TOK_S]
// [--profile full|off|update|update-kept]
// Times are the best of R runs (the machine may be shared). --profile: after loading and the
// warm-up, only R prefills with full capture (or capture off, last logits), each timed, then exit:
// for `perf record` and quick A/B runs; update: one full-capture prefill, then R last-word updates,
// each timed (update-kept: each with the previous trace held, as the GUI holds it). --llama:
// llama.cpp's rates measured beside this run (the summary otherwise divides by issue 19's figures).
// Peak RSS is measured per model: the high-water mark (VmHWM) is reset before each model by writing
// "5" to /proc/self/clear_refs, and read after that model's prefill + update + decode sequence.
// Two client behaviours are measured: (a) the client drops its trace before the update (CLI,
// scripts), (b) it keeps the previous trace while the update runs (the GUI's shown snapshot).

#include <malloc.h>
#include <sys/resource.h>
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fixture_writer.h"
#include "kernels/cpu/cpu_matmul.h"
#include "kernels/cpu/cpu_panel_gemm.h"
#include "kernels/cpu/cpu_sgemm.h"
#include "lltest.h"
#include "rss_sampler.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

using lltest::TinyLlamaShape;
constexpr int kEmbd = TinyLlamaShape::kEmbd, kHead = TinyLlamaShape::kHead,
              kHeadKv = TinyLlamaShape::kHeadKv, kFf = TinyLlamaShape::kFf,
              kVocab = TinyLlamaShape::kVocab;

double seconds(Clock::time_point a) {
  return std::chrono::duration<double>(Clock::now() - a).count();
}

// The machine's f32 GEMM rate (Eigen, output columns split over `threads` threads) on the FFN
// shape, measured in the same process so the prefill rate can be compared with it side by side.
double eigenGemmGflops(int threads, int n, int rows, int cols) {
  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  RowMat x = RowMat::Random(n, cols), w = RowMat::Random(rows, cols), y(n, rows);
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = Clock::now();
    std::vector<std::thread> ts;
    const int chunk = (rows + threads - 1) / threads;
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        const int r0 = t * chunk, r1 = std::min(rows, r0 + chunk);
        if (r1 > r0)
          y.middleCols(r0, r1 - r0).noalias() = x * w.middleRows(r0, r1 - r0).transpose();
      });
    for (auto& th : ts) th.join();
    best = std::min(best, seconds(t0));
  }
  return 2.0 * n * rows * cols / best / 1e9;
}

// The engine's f32 product (kern::cpuMatmul on an F32 weight, on a pool of `threads`: the AVX-512
// panel GEMM where the CPU has it, else the build's library in panels), on the same shape as
// eigenGemmGflops; library = true: the build's library (kern::sgemmNT) in the engine's panels.
double engineGemmGflops(int threads, int n, int rows, int cols, bool library = false) {
  std::vector<float> x(size_t(n) * cols), w(size_t(rows) * cols), y(size_t(n) * rows);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (float& v : x) v = d(rng);
  for (float& v : w) v = d(rng);
  ll::kern::CpuWeight weight;
  weight.rows = rows;
  weight.cols = cols;
  weight.rowBytes = size_t(cols) * sizeof(float);
  weight.data = reinterpret_cast<const uint8_t*>(w.data());
  ll::kern::ThreadPool pool(threads);
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = Clock::now();
    if (library) {
      const int64_t panel = ll::kern::f32PanelRows(rows);
      pool.run((rows + panel - 1) / panel, [&](int64_t p, int) {
        const int64_t r0 = p * panel, pr = std::min<int64_t>(panel, rows - r0);
        ll::kern::sgemmNT(n, pr, cols, x.data(), w.data() + size_t(r0) * cols, y.data() + r0, rows);
      });
    } else {
      ll::kern::cpuMatmul(pool, weight, x.data(), y.data(), n);
    }
    best = std::min(best, seconds(t0));
  }
  return 2.0 * n * rows * cols / best / 1e9;
}

// FLOPs of one prefill: the linear layers for every token, causal attention (QK^T and PV), and the
// LM head for `headRows` rows.
double prefillFlops(int layers, int tokens, int headRows) {
  const double kvDim = double(kEmbd) / kHead * kHeadKv;
  const double linear =
      2.0 * layers * (2.0 * kEmbd * kEmbd + 2.0 * kEmbd * kvDim + 3.0 * kEmbd * kFf);
  const double attention = 2.0 * layers * double(tokens) * tokens * kEmbd;
  return linear * tokens + attention + 2.0 * kEmbd * kVocab * headRows;
}

// VmHWM / VmRSS from /proc/self/status in MiB (-1 when unreadable).
double procStatusMiB(const char* key) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  double v = -1;
  const size_t n = std::strlen(key);
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, key, n) == 0 && line[n] == ':') v = std::atof(line + n + 1) / 1024.0;
  std::fclose(f);
  return v;
}

// Resets the high-water mark to the current RSS; false when the kernel does not support it.
bool resetPeakRss() {
  FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

// User + system CPU seconds of the whole process so far.
double processCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Page faults served without I/O: a pass's fresh memory faults in page by page (the kernel zeroes
// each), memory it reuses does not. Steadier than time on a shared machine.
long minorFaults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

size_t traceBytes(const ll::rt::Trace& t) {
  return t.bytes();
}

struct Summary {
  std::string type, math;
  double fullTokS = 0, overhead = 0, keystroke = 0;
};

// One weight type in one CPU math mode: load, prefill with and without capture, last-word update,
// decode, peak RSS.
Summary benchModel(const fs::path& shared, const fs::path& out, const std::string& type,
                   const std::string& math, int threads, int tokens, int layers, int repeat,
                   double gemmRate, const std::string& profile) {
  const std::string tag = type + " " + math;
  const fs::path file =
      out / ("tinyllama-shaped-" + type + "-L" + std::to_string(layers) + ".gguf");
  if (!fs::exists(file)) {
    auto t0 = Clock::now();
    // The writer renames a finished temporary file into place: no half-written model is reused.
    lltest::writeTinyLlamaShaped(file, type == "F16" ? 1 : 8, layers,
                                 shared / "models/llama-gqa-f16.gguf");
    std::printf("[%s] wrote %s in %.1f s\n", tag.c_str(), file.c_str(), seconds(t0));
  }
  const double fileMiB = fs::file_size(file) / 1048576.0;
  if (!resetPeakRss() || procStatusMiB("VmHWM") > procStatusMiB("VmRSS") + 1.0) {
    std::fprintf(stderr,
                 "bench_engine: cannot reset VmHWM via /proc/self/clear_refs; run one "
                 "type per process (--types Q8_0) for a per-model peak\n");
  }
  {
    const struct mallinfo2 mi = mallinfo2();
    std::printf("[%s] RSS before load %.0f MiB (heap in use %.0f of %.0f MiB held)\n", tag.c_str(),
                procStatusMiB("VmRSS"), double(mi.uordblks + mi.hblkhd) / 1048576.0,
                double(mi.arena + mi.hblkhd) / 1048576.0);
  }
  auto samplerA = std::make_unique<bench::RssSampler>();
  samplerA->phase("load");
  ll::rt::Session s;
  auto t0 = Clock::now();
  s.load(file, {"cpu", threads, math});
  std::printf("[%s] load %.2f s, file %.0f MiB, backend %s\n", tag.c_str(), seconds(t0), fileMiB,
              s.backendName().c_str());
  std::mt19937 rng(5);
  std::vector<int32_t> ids = {1};
  while (static_cast<int>(ids.size()) < tokens)
    ids.push_back(3 + static_cast<int32_t>(rng() % (kVocab - 3)));
  s.setPromptIds(ids);

  // Timed prefills run unsampled (RssSampler::hold); the full-capture prefill before the update
  // below is sampled, untimed.
  // The keystroke every update below times: the last word (the last two tokens) changed.
  auto lastWordEdited = [&](int32_t salt) {
    auto edited = ids;
    edited[tokens - 2] = 1000 + salt;
    edited[tokens - 1] = 2000 + salt;
    return edited;
  };
  auto timeRun = [&](const ll::rt::RunRequest& r) {
    double best = 1e30;
    samplerA->hold(true);
    for (int k = 0; k < repeat; ++k) {
      s.resetCache();
      auto t = Clock::now();
      auto tr = s.run(r);
      best = std::min(best, seconds(t));
    }
    samplerA->hold(false);
    return best;
  };
  ll::rt::RunRequest full, off, offAll;
  off.capture = {false, false};
  offAll.capture = {false, true};
  // warm-up: pages the mmapped weights in
  samplerA->phase("warm-up");
  {
    std::vector<int32_t> few(ids.begin(), ids.begin() + 16);
    s.setPromptIds(few);
    s.run(off);
    s.setPromptIds(ids);
  }
  if (profile == "update" || profile == "update-kept") {
    // One full-capture prefill, then R last-word updates (the keystroke below), each timed;
    // update-kept: the previous trace is held during each update (case (b), the GUI's).
    std::shared_ptr<const ll::rt::Trace> held = s.run(full);
    if (profile == "update") held.reset();
    samplerA->hold(true);
    double best = 1e30;
    for (int k = 0; k < repeat; ++k) {
      s.setPromptIds(lastWordEdited(k));
      const double cpu0 = processCpuSeconds();
      const long faults0 = minorFaults();
      auto t = Clock::now();
      auto tr = s.run(full);
      const double dt = seconds(t), cpu = processCpuSeconds() - cpu0;
      const long faults = minorFaults() - faults0;
      best = std::min(best, dt);
      if (profile == "update-kept") held = tr;
      std::printf(
          "[%s] profile %s run %d (%d rows recomputed): %.3f s, CPU %.2f s (%.0f%% of "
          "%d threads), %ld page faults\n",
          tag.c_str(), profile.c_str(), k, tr->nTokens - tr->reusedRows, dt, cpu,
          100.0 * cpu / (dt * threads), threads, faults);
    }
    samplerA->stop();
    return {type, math, 0, 0, best};
  }
  if (!profile.empty()) {
    const ll::rt::RunRequest& r = profile == "off" ? off : full;
    double best = 1e30;
    samplerA->hold(true);
    for (int k = 0; k < repeat; ++k) {
      s.resetCache();
      const double cpu0 = processCpuSeconds();
      const long faults0 = minorFaults();
      auto t = Clock::now();
      s.run(r);
      const double dt = seconds(t), cpu = processCpuSeconds() - cpu0;
      const long faults = minorFaults() - faults0;
      best = std::min(best, dt);
      // CPU time counts work, not waiting: it moves less than wall time on a shared machine.
      std::printf(
          "[%s] profile %s run %d: %.3f s %.1f tok/s, CPU %.2f s (%.0f%% of %d threads), %ld page "
          "faults\n",
          tag.c_str(), profile.c_str(), k, dt, tokens / dt, cpu, 100.0 * cpu / (dt * threads),
          threads, faults);
    }
    samplerA->stop();
    return {type, math, tokens / best, 0, 0};
  }
  const double rssWarm = procStatusMiB("VmRSS");
  samplerA->phase("capture-off prefills");
  const double tOff = timeRun(off);
  const double hwmOff = procStatusMiB("VmHWM");
  const double tOffAll = timeRun(offAll);
  samplerA->phase("full-capture prefill");
  const double tFull = timeRun(full);
  std::printf(
      "[%s] RSS after a 16-token warm-up %.0f MiB; peak after the capture-off prefill %.0f "
      "MiB, after the full-capture prefill %.0f MiB\n",
      tag.c_str(), rssWarm, hwmOff, procStatusMiB("VmHWM"));
  std::printf("[%s] prefill capture off (last logits)  %7.2f s  %7.1f tok/s\n", tag.c_str(), tOff,
              tokens / tOff);
  std::printf("[%s] prefill capture off (all logits)   %7.2f s  %7.1f tok/s\n", tag.c_str(),
              tOffAll, tokens / tOffAll);
  std::printf("[%s] prefill full capture               %7.2f s  %7.1f tok/s\n", tag.c_str(), tFull,
              tokens / tFull);
  const double rateOff = prefillFlops(layers, tokens, 1) / tOff / 1e9;
  const double rateFull = prefillFlops(layers, tokens, tokens) / tFull / 1e9;
  std::printf(
      "[%s] prefill rate: %.1f GFLOP/s capture off, %.1f GFLOP/s full capture = %.0f%% / %.0f%% "
      "of "
      "the f32 GEMM rate %.1f GFLOP/s (target >= 60%%)\n",
      tag.c_str(), rateOff, rateFull, 100.0 * rateOff / gemmRate, 100.0 * rateFull / gemmRate,
      gemmRate);
  std::printf(
      "[%s] capture overhead: %.1f%% vs capture off (last logits), %.1f%% vs off with all logits "
      "(target < 15%%)\n",
      tag.c_str(), 100.0 * (tFull - tOff) / tOff, 100.0 * (tFull - tOffAll) / tOffAll);
  // Change the last word (the last two tokens) and update with full capture. (a): the client
  // dropped the previous trace (the session holds the only reference).
  double tUpd = 1e30;
  int recomputed = 0, reused = 0;
  size_t trBytes = 0;
  for (int k = 0; k < repeat; ++k) {
    s.setPromptIds(ids);
    s.resetCache();
    samplerA->phase("full-capture prefill");
    s.run(full);
    samplerA->phase("update");
    s.setPromptIds(lastWordEdited(k));
    auto t = Clock::now();
    auto tr = s.run(full);
    tUpd = std::min(tUpd, seconds(t));
    recomputed = tr->nTokens - tr->reusedRows;
    reused = tr->reusedRows;
    trBytes = traceBytes(*tr);
  }
  std::printf(
      "[%s] last-word update (%d rows recomputed, %d reused) %.3f s = %.1f%% of a full prefill "
      "(target < 10%%)\n",
      tag.c_str(), recomputed, reused, tUpd, 100.0 * tUpd / tFull);
  // Decode speed for reference.
  ll::rt::GenerateRequest g;
  g.maxTokens = 8;
  g.stopAtEos = false;
  samplerA->phase("decode");
  auto t = Clock::now();
  s.generate(g);
  std::printf("[%s] decode %.2f tok/s (8 tokens after a %d-token prompt)\n", tag.c_str(),
              8 / seconds(t), tokens);
  const double peakA = procStatusMiB("VmHWM");
  const bench::RssPeak splitA = samplerA->stop();
  // (b): the client keeps the previous trace while the update runs.
  resetPeakRss();
  bench::RssSampler samplerB;
  double tUpdB = 0;
  {
    s.setPromptIds(ids);
    samplerB.phase("full-capture prefill");
    auto kept = s.run(full);
    samplerB.phase("update");
    s.setPromptIds(lastWordEdited(2000));  // the same tokens as before: 3000, 4000
    auto t1 = Clock::now();
    auto tr = s.run(full);
    tUpdB = seconds(t1);
  }
  const double peakB = procStatusMiB("VmHWM");
  const bench::RssPeak splitB = samplerB.stop();
  const double kvMiB = 2.0 * layers * tokens * (kEmbd / kHead * kHeadKv) * 4 / 1048576.0;
  const double budget = 1.25 * (fileMiB + kvMiB);
  std::printf(
      "[%s] file %.0f MiB + KV cache %.0f MiB = %.0f MiB; budget +25%% = %.0f MiB; trace "
      "of %d tokens %.0f MiB\n",
      tag.c_str(), fileMiB, kvMiB, fileMiB + kvMiB, budget, tokens, trBytes / 1048576.0);
  std::printf("[%s] peak RSS (a) client drops its trace before the update: %.0f MiB (%s)\n",
              tag.c_str(), peakA, peakA < budget ? "met" : "MISSED");
  std::printf(
      "[%s] peak RSS (b) client keeps its trace during the update:  %.0f MiB (%s; update "
      "%.3f s)\n",
      tag.c_str(), peakB, peakB < budget ? "met" : "MISSED", tUpdB);
  // Sampled every millisecond, so a peak shorter than that may be missed by a few MiB.
  for (const auto& [name, p] : {std::pair{"a", splitA}, std::pair{"b", splitB}})
    std::printf(
        "[%s] at the sampled peak (%s), %.0f MiB in the %s: file pages %.0f, anonymous %.0f MiB; "
        "heap in use %.0f of %.0f MiB held\n",
        tag.c_str(), name, p.rss, p.phase, p.file, p.anon, p.heapUsed, p.heapHeld);
  return {type, math, tokens / tFull, (tFull - tOff) / tOff, tUpd / tFull};
}

// The comparison: llama.cpp's llama-bench pp451 on the same files and machine (issue 19:
// 114-115 tok/s F16, 89-93 tok/s Q8_0; 2 threads, Zen 5).
// llama.cpp's prompt-processing rates the summary divides by: issue 19's pp451 figures unless
// --llama gives ones measured beside this run (e.g. llama-bench pp512 in the same hour).
struct LlamaFigures {
  double f16 = 114.5, q8 = 91.0;
  std::string source = "pp451 from issue 19";
};

// "F16=76.5,Q8_0=91.5" -> figures; false on a malformed list.
bool parseLlama(const std::string& arg, LlamaFigures& f) {
  bool any = false;
  size_t pos = 0;
  while (pos < arg.size()) {
    const size_t end = std::min(arg.find(',', pos), arg.size());
    const std::string item = arg.substr(pos, end - pos);
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return false;
    const std::string key = item.substr(0, eq);
    const double v = std::atof(item.c_str() + eq + 1);
    if (v <= 0) return false;
    if (key == "F16")
      f.f16 = v;
    else if (key == "Q8_0")
      f.q8 = v;
    else
      return false;
    any = true;
    pos = end + 1;
  }
  return any;
}

void printSummary(const std::vector<Summary>& rows, int tokens, int threads,
                  const LlamaFigures& llamaFig) {
  std::printf("\nsummary (%d tokens, %d threads; llama.cpp %s: F16 %.1f, Q8_0 %.1f tok/s)\n",
              tokens, threads, llamaFig.source.c_str(), llamaFig.f16, llamaFig.q8);
  std::printf("  %-5s %-8s %12s %14s %18s %12s\n", "type", "math", "full tok/s", "x llama.cpp",
              "capture overhead", "keystroke");
  for (const Summary& r : rows) {
    const double llama = r.type == "F16" ? llamaFig.f16 : llamaFig.q8;
    std::printf("  %-5s %-8s %12.1f %13.2fx %17.1f%% %11.1f%%\n", r.type.c_str(), r.math.c_str(),
                r.fullTokS, r.fullTokS / llama, 100.0 * r.overhead, 100.0 * r.keystroke);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int threads = 2, tokens = 512, layers = 22, repeat = 1;
  std::string types = "F16,Q8_0", maths = "precise,fast";
  fs::path out = "/tmp/layerlens-bench";
  std::string profile;
  LlamaFigures llamaFig;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--llama") {
      if (!parseLlama(argv[i + 1], llamaFig)) {
        std::fprintf(stderr, "bench_engine: --llama takes F16=TOK_S,Q8_0=TOK_S\n");
        return 2;
      }
      llamaFig.source = "given with --llama";
    } else if (a == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (a == "--tokens")
      tokens = std::atoi(argv[i + 1]);
    else if (a == "--layers")
      layers = std::atoi(argv[i + 1]);
    else if (a == "--repeat")
      repeat = std::max(1, std::atoi(argv[i + 1]));
    else if (a == "--types")
      types = argv[i + 1];
    else if (a == "--math")
      maths = argv[i + 1];
    else if (a == "--out")
      out = argv[i + 1];
    else if (a == "--profile")
      profile = argv[i + 1];
  }
  if (!profile.empty() && profile != "full" && profile != "off" && profile != "update" &&
      profile != "update-kept") {
    std::fprintf(stderr, "bench_engine: --profile takes full, off, update or update-kept\n");
    return 2;
  }
  const fs::path shared = lltest::sharedDir();
  if (shared.empty()) {
    std::fprintf(stderr, "bench_engine: LAYERLENS_SHARED_DIR (for the tokenizer) not found\n");
    return 1;
  }
  fs::create_directories(out);
  std::printf(
      "bench_engine: TinyLlama-1.1B shape (L%d d%d H%d/%d ff%d V%d), %d tokens, %d threads\n",
      layers, kEmbd, kHead, kHeadKv, kFf, kVocab, tokens, threads);
  // The prefill is compared with the engine's GEMM library; Eigen's rate is printed beside it.
  // --profile skips the GEMM measurement (its rate is only printed beside the full run).
  const double engineRate = profile.empty() ? engineGemmGflops(threads, tokens, kFf, kEmbd) : 1;
  const double libraryRate =
      profile.empty() ? engineGemmGflops(threads, tokens, kFf, kEmbd, true) : 1;
  // Prefill rates are compared with the fastest f32 product measured here.
  const double gemmRate = std::max(engineRate, libraryRate);
  const double eigenRate = profile.empty() ? eigenGemmGflops(threads, tokens, kFf, kEmbd) : 1;
  // The measurement's matrices (62 MiB) are freed, but glibc keeps ~12 MiB of them resident in its
  // heap; hand them back so the per-model peaks below count the engine, not this measurement.
  malloc_trim(0);
  std::printf(
      "machine f32 GEMM rate (%d threads, %dx%dx%d): %.1f GFLOP/s with the engine's product "
      "(%s), %.1f GFLOP/s with %s in the engine's panels, %.1f GFLOP/s with Eigen\n",
      threads, tokens, kFf, kEmbd, engineRate,
      ll::kern::panelGemmAvailable() ? "AVX-512 panel GEMM" : "the library in panels", libraryRate,
      ll::kern::sgemmLibrary().c_str(), eigenRate);
  std::vector<Summary> summary;
  for (const std::string type : {"F16", "Q8_0"})
    for (const std::string math : {"precise", "fast"}) {
      if (types.find(type) == std::string::npos || maths.find(math) == std::string::npos) continue;
      summary.push_back(
          benchModel(shared, out, type, math, threads, tokens, layers, repeat, gemmRate, profile));
      // The model's session is gone, but glibc keeps most of its freed heap (the traces: 270-450
      // MiB after a 1.1B model at 512 tokens, measured) resident in its arenas, where the next
      // model's allocations do not always land: each model's peak is measured from a trimmed
      // heap, as in a process of its own.
      malloc_trim(0);
    }
  // --profile update measures no prefill: nothing to set beside llama.cpp.
  if (profile.rfind("update", 0) != 0) printSummary(summary, tokens, threads, llamaFig);
  return 0;
}
