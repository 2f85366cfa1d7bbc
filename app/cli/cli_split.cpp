// The run, generate and serve commands' split over MPI ranks (see cli_split.h). Built without
// MPI, a launch with several ranks is refused with a message.
#include "cli_split.h"

#include <cstdio>
#include <stdexcept>

#include "runtime/dist/launch_env.h"

#ifdef LAYERLENS_HAVE_MPI
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "runtime/dist/activation_route.h"
#include "runtime/dist/pipeline.h"
#include "runtime/dist_mpi/mpi_transport.h"
#include "runtime/engine/engine.h"
#endif
#ifdef LAYERLENS_HAVE_NCCL
#include "runtime/dist_nccl/nccl_channel.h"
#endif

namespace ll::cli {

#ifdef LAYERLENS_HAVE_MPI
namespace {

// Test hooks: LAYERLENS_TEST_RANK_FAULT, comma-separated entries: "kill:R" kills rank R (SIGKILL)
// when a pass reaches it, "hang:R" stops it there forever (the tests check rank 0 then reports
// and nothing hangs); "slow:R:MS" makes each layer rank R runs take MS milliseconds longer (a
// pass long enough to cancel between layers).
struct FaultHooks {
  std::function<void()> beforeRun, afterLayer;
};

FaultHooks faultHooks(int rank) {
  FaultHooks h;
  const char* f = std::getenv("LAYERLENS_TEST_RANK_FAULT");
  if (!f) return h;
  const std::string all(f);
  for (size_t at = 0; at <= all.size();) {
    const size_t end = std::min(all.find(',', at), all.size());
    const std::string s = all.substr(at, end - at);
    at = end + 1;
    const auto colon = s.find(':');
    if (colon == std::string::npos || std::atoi(s.c_str() + colon + 1) != rank) continue;
    const std::string kind = s.substr(0, colon);
    if (kind == "kill") h.beforeRun = [] { std::raise(SIGKILL); };
    if (kind == "hang")
      h.beforeRun = [] {
        for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
      };
    const auto colon2 = s.find(':', colon + 1);
    if (kind == "slow" && colon2 != std::string::npos) {
      const auto ms = std::chrono::milliseconds(std::atoi(s.c_str() + colon2 + 1));
      h.afterLayer = [ms] { std::this_thread::sleep_for(ms); };
    }
  }
  return h;
}

// What every serve session's runner shares on rank 0: the one lock around the transport (one
// command in flight at a time, MPI is used from one thread at a time) and the pipeline's state.
struct SharedPipe {
  std::mutex mutex;
  std::string broken;  // why the pipeline is down ("" while it is up)
  std::function<void(const std::string&)> onBroken;
  rt::dist::SessionId nextSession = 1;

  void check() const {
    if (!broken.empty())
      throw std::runtime_error("the pipeline over the MPI ranks is down (" + broken +
                               "); restart the server");
  }
  // Under the lock: a rank did not answer in time (or the transport failed).
  void breakWith(const std::string& why) {
    if (!broken.empty()) return;
    broken = why;
    if (onBroken) onBroken(why);
  }
};

class MpiSplitRun : public SplitRun {
 public:
  explicit MpiSplitRun(double timeoutS) : m_transport(nullptr, nullptr) {
    m_opt.timeoutS = timeoutS;
  }
  ~MpiSplitRun() override { m_driver.reset(); }  // tells the other ranks to stop, then finalises
  bool isDriver() const override { return m_transport.rank() == 0; }
  rt::StageShare share(bool serving) const override {
    using Extra = rt::WeightScope::Extra;
    const int r = m_transport.rank();
    return {r, m_transport.size(),
            r != 0 ? Extra::None : (serving ? Extra::Analyses : Extra::Queries)};
  }
  int serve(rt::Session& s) override {
    printWeights(m_transport.rank(), s.engine().weights());
    setupRoute(s.engine().backend());
    const FaultHooks f = faultHooks(m_transport.rank());
    rt::dist::ServeHooks hooks;
    hooks.beforeRun = f.beforeRun;
    hooks.afterLayer = f.afterLayer;
    return rt::dist::servePipeline(m_transport, &s.engine(), m_opt, hooks);
  }
  void attach(rt::Session& s) override {
    setupRoute(s.engine().backend());
    m_driver = std::make_unique<rt::dist::PipelineDriver>(m_transport, s.engine(), m_opt);
    rt::dist::PipelineDriver* d = m_driver.get();
    // On stderr: stdout stays what one process prints.
    printPlan(d->stages());
    printRoute();
    printWeights(0, s.engine().weights());
    s.engine().setPipeline([d](const std::vector<int32_t>& ids, const std::vector<int32_t>& pos,
                               const rt::Interventions& iv, const rt::CaptureOptions& capture,
                               const rt::EngineProgress& progress, bool publish,
                               const std::function<void(rt::Trace&)>& annotate) {
      auto tr = d->run(ids, pos, iv, capture, annotate, publish, progress);
      // Generation's steps (unpublished) need the logits; `run` fetches what it writes itself.
      if (!publish) d->fetchHead();
      return tr;
    });
  }
  void fetchLayer(int l) override { m_driver->fetchLayer(l); }
  void fetchHead() override { m_driver->fetchHead(); }
  [[noreturn]] void fail(const std::string& why) override { m_transport.abort("error: " + why); }

  int serveSessions(const EngineOpener& open, int maxSessions) override {
    rt::dist::ServeHooks hooks;
    const FaultHooks f = faultHooks(m_transport.rank());
    hooks.beforeRun = f.beforeRun;
    hooks.afterLayer = f.afterLayer;
    hooks.openEngine = open;
    hooks.maxSessions = maxSessions;
    setupServeRoute();
    return rt::dist::servePipeline(m_transport, nullptr, m_opt, hooks);
  }

  std::shared_ptr<void> attachSession(rt::Session& s, const std::string& openSpec,
                                      std::vector<rt::dist::StageRange>* stages) override {
    std::shared_ptr<SharedPipe> pipe = m_pipe;
    std::shared_ptr<rt::dist::PipelineDriver> d;
    {
      std::lock_guard<std::mutex> lock(pipe->mutex);
      pipe->check();
      try {
        d = std::make_shared<rt::dist::PipelineDriver>(m_transport, s.engine(), m_opt,
                                                       pipe->nextSession++, openSpec);
      } catch (const rt::dist::TransportError& e) {
        pipe->breakWith(e.what());
        throw;
      }
      if (!m_planShown) {
        printPlan(d->stages());
        printRoute();
      }
      m_planShown = true;
      if (stages) *stages = d->stages();
    }
    rt::dist::PipelineDriver* raw = d.get();
    rt::Engine* engine = &s.engine();
    // A lazy trace's first read of another rank's tensor fetches it from any client thread: one
    // command under the same lock as the passes, and a rank that fails it breaks the pipeline.
    d->setFetchGuard([pipe](const std::function<void()>& fetch) {
      std::lock_guard<std::mutex> lock(pipe->mutex);
      pipe->check();
      try {
        fetch();
      } catch (const rt::dist::TransportError& e) {
        pipe->breakWith(e.what());
        throw;
      }
    });
    engine->setPipeline([pipe, raw](const std::vector<int32_t>& ids,
                                    const std::vector<int32_t>& pos, const rt::Interventions& iv,
                                    const rt::CaptureOptions& capture,
                                    const rt::EngineProgress& progress, bool publish,
                                    const std::function<void(rt::Trace&)>& annotate) {
      std::lock_guard<std::mutex> lock(pipe->mutex);
      pipe->check();
      try {
        // A newer request on the session (progress says stop) cancels the pass between layers
        // on every rank: rt::Cancelled, not a broken pipeline.
        raw->run(ids, pos, iv, capture, annotate, publish, progress);
        // Only rank 0's own layers come now; the rest when a reader first touches them.
        return raw->lazyTrace();
      } catch (const rt::dist::TransportError& e) {
        pipe->breakWith(e.what());
        throw;
      }
    });
    // Closing sends one small message per rank (under the lock: one command at a time); a
    // pipeline that is down is not asked (its ranks may be gone).
    return std::shared_ptr<void>(nullptr, [pipe, d, engine](void*) mutable {
      engine->setPipeline({});  // the session outlives this handle (ServerSession::attached)
      std::lock_guard<std::mutex> lock(pipe->mutex);
      if (!pipe->broken.empty()) d->abandon();
      d.reset();
    });
  }
  void onBroken(std::function<void(const std::string&)> f) override {
    std::lock_guard<std::mutex> lock(m_pipe->mutex);
    m_pipe->onBroken = std::move(f);
  }
  std::string broken() const override {
    std::lock_guard<std::mutex> lock(m_pipe->mutex);
    return m_pipe->broken;
  }
  void stopServing() override {
    std::lock_guard<std::mutex> lock(m_pipe->mutex);
    rt::dist::stopServing(m_transport, m_opt);
  }

 private:
  // run / generate: agrees with the other ranks on how the residual travels between stages
  // (LAYERLENS_PIPELINE_TRANSPORT, the stage's backend) and joins the NCCL communicator when
  // that is the route. Throws, saying why, when NCCL is asked for and cannot be.
  void setupRoute(kern::Backend& stage) {
    const auto req = rt::dist::parseRouteRequest(std::getenv("LAYERLENS_PIPELINE_TRANSPORT"));
    const bool cudaStage = stage.nativeStream() != nullptr;
    const rt::dist::ActivationRoute mine =
        rt::dist::chooseRoute(req, kNcclBuilt, cudaStage, stage.name());
    m_route = rt::dist::agreeOnRoute(m_transport, mine, m_opt.timeoutS);
#ifdef LAYERLENS_HAVE_NCCL
    if (m_route == rt::dist::ActivationRoute::Nccl) {
      m_payload = rt::dist::makeNcclChannel(m_transport, stage, m_opt.timeoutS);
      m_opt.payload = m_payload.get();
    }
#endif
  }
  // serve: its sessions' activations go over MPI (chooseServeRoute). The computing ranks check
  // when they start, so a refused LAYERLENS_PIPELINE_TRANSPORT ends the job before any client.
  void setupServeRoute() {
    m_route = rt::dist::chooseServeRoute(
        rt::dist::parseRouteRequest(std::getenv("LAYERLENS_PIPELINE_TRANSPORT")));
  }
  void printRoute() const {
    std::fprintf(stderr, "layerlens-cli: activations between stages: %s\n",
                 rt::dist::routeText(m_route).c_str());
  }

  static void printPlan(const std::vector<rt::dist::StageRange>& stages) {
    std::string plan;
    for (const auto& st : stages)
      plan += (plan.empty() ? "" : " | ") + std::to_string(st.first) +
              (st.last - st.first > 1 ? "-" + std::to_string(st.last - 1) : "");
    std::fprintf(stderr, "layerlens-cli: layers split over %zu ranks: %s\n", stages.size(),
                 plan.c_str());
  }

  // What this rank bound of the model (WeightScope): its stage's layers and the extras.
  static void printWeights(int rank, const rt::ModelWeights& w) {
    const char* extra =
        w.extra() == rt::WeightScope::Extra::Queries    ? " (+ every layer's query path)"
        : w.extra() == rt::WeightScope::Extra::Analyses ? " (+ what the analyses read)"
                                                        : "";
    std::fprintf(stderr, "layerlens-cli: rank %d binds layers %d-%d%s: %zu weights, %.1f MiB\n",
                 rank, w.firstLayer(), w.lastLayer() - 1, extra, w.boundCount(),
                 double(w.boundBytes()) / double(1 << 20));
  }

#ifdef LAYERLENS_HAVE_NCCL
  static constexpr bool kNcclBuilt = true;
#else
  static constexpr bool kNcclBuilt = false;
#endif
  rt::dist::MpiTransport m_transport;
  rt::dist::PipelineOptions m_opt;
  rt::dist::ActivationRoute m_route = rt::dist::ActivationRoute::Mpi;
  std::unique_ptr<rt::dist::PayloadChannel> m_payload;  // the NCCL route's (m_opt.payload)
  std::unique_ptr<rt::dist::PipelineDriver> m_driver;
  std::shared_ptr<SharedPipe> m_pipe = std::make_shared<SharedPipe>();
  bool m_planShown = false;
};

}  // namespace
#endif

std::unique_ptr<SplitRun> SplitRun::start(double timeoutS) {
  if (!rt::dist::launchedWithSeveralRanks()) return nullptr;
#ifdef LAYERLENS_HAVE_MPI
  if (!(timeoutS > 0)) throw std::invalid_argument("--rank-timeout must be positive");
  return std::make_unique<MpiSplitRun>(timeoutS);
#else
  throw std::runtime_error(
      "launched with several MPI ranks, but this layerlens-cli was built without MPI "
      "(install libopenmpi-dev and rebuild with LAYERLENS_MPI=AUTO or ON)");
#endif
}

}  // namespace ll::cli
