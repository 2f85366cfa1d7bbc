// The run command's split over MPI ranks (see cli_split.h). Built without MPI, a launch with
// several ranks is refused with a message.
#include "cli_split.h"

#include <cstdio>
#include <stdexcept>

#include "runtime/dist/launch_env.h"

#ifdef LAYERLENS_HAVE_MPI
#include <csignal>
#include <cstdlib>
#include <thread>

#include "runtime/dist/pipeline.h"
#include "runtime/dist_mpi/mpi_transport.h"
#include "runtime/engine/engine.h"
#endif

namespace ll::cli {

#ifdef LAYERLENS_HAVE_MPI
namespace {

// Test hook: LAYERLENS_TEST_RANK_FAULT="kill:R" kills rank R (SIGKILL) when a pass reaches it,
// "hang:R" stops it there forever; the tests check rank 0 then reports and nothing hangs.
std::function<void()> faultHook(int rank) {
  const char* f = std::getenv("LAYERLENS_TEST_RANK_FAULT");
  if (!f) return {};
  const std::string s(f);
  const auto colon = s.find(':');
  if (colon == std::string::npos || std::atoi(s.c_str() + colon + 1) != rank) return {};
  const std::string kind = s.substr(0, colon);
  if (kind == "kill") return [] { std::raise(SIGKILL); };
  if (kind == "hang")
    return [] {
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    };
  return {};
}

class MpiSplitRun : public SplitRun {
 public:
  explicit MpiSplitRun(double timeoutS) : m_transport(nullptr, nullptr) {
    m_opt.timeoutS = timeoutS;
  }
  ~MpiSplitRun() override { m_driver.reset(); }  // tells the other ranks to stop, then finalises
  bool isDriver() const override { return m_transport.rank() == 0; }
  int serve(rt::Session& s) override {
    return rt::dist::servePipeline(m_transport, s.engine(), m_opt, faultHook(m_transport.rank()));
  }
  void attach(rt::Session& s) override {
    m_driver = std::make_unique<rt::dist::PipelineDriver>(m_transport, s.engine(), m_opt);
    rt::dist::PipelineDriver* d = m_driver.get();
    // On stderr: stdout stays what one process prints.
    std::string plan;
    for (const auto& st : d->stages())
      plan += (plan.empty() ? "" : " | ") + std::to_string(st.first) +
              (st.last - st.first > 1 ? "-" + std::to_string(st.last - 1) : "");
    std::fprintf(stderr, "layerlens-cli: layers split over %zu ranks: %s\n", d->stages().size(),
                 plan.c_str());
    s.setPassRunner([d](const std::vector<int32_t>& ids, const std::vector<int32_t>& pos,
                        const rt::RunRequest& req,
                        const std::function<void(rt::Trace&)>& annotate) {
      return d->run(ids, pos, req.interventions, req.capture, annotate);
    });
  }
  void fetchLayer(int l) override { m_driver->fetchLayer(l); }
  void fetchHead() override { m_driver->fetchHead(); }
  [[noreturn]] void fail(const std::string& why) override { m_transport.abort("error: " + why); }

 private:
  rt::dist::MpiTransport m_transport;
  rt::dist::PipelineOptions m_opt;
  std::unique_ptr<rt::dist::PipelineDriver> m_driver;
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
