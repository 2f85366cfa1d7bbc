// Session: the runtime's front door for the GUI, the CLI and tests. Loads a model onto a backend,
// holds the prompt, runs requests (with prefix reuse), recomputes attention maps on request and
// generates. Not thread-safe: one worker thread owns a Session. No Qt, no pointers into GUI state.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/api/request.h"
#include "runtime/api/trace.h"
#include "runtime/engine/weight_scope.h"
#include "runtime/model/model.h"

namespace ll::kern {
class Backend;
}

namespace ll::rt {

class Engine;

struct BackendChoice {
  std::string name = "cpu";  // "cpu", "cuda" (falls back to cpu with a note), "reference"
  int threads = 0;           // cpu: <= 0 means hardware concurrency
  // The CPU backend's math (kern::CpuMath): "precise", "fast", or empty for LAYERLENS_CPU_MATH
  // (default precise). Also applies when "cuda" falls back to the CPU.
  std::string cpuMath = {};  // "= {}": {"cpu", 2} stays free of -Wmissing-field-initializers
  // A pipeline stage (runtime/dist, `mpirun -np N`) binds (uploads) only its own layers' weights
  // and its share's extra outside them (WeightScope). Default: every weight.
  StageShare share = {};
};

// (layersDone, nLayer) -> false to cancel (the call throws Cancelled).
using RunProgress = std::function<bool(int, int)>;
// Called with each generated token; return false to stop.
using TokenCallback = std::function<bool(int32_t id, const std::string& piece)>;

struct Generation {
  std::vector<int32_t> ids;
  std::vector<std::string> pieces;
  std::string text;
  bool stoppedAtEos = false;
};

class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void load(const std::filesystem::path& path, const BackendChoice& backend = {},
            const LoadProgress& progress = {});
  // Uses an already loaded model (tests share one per file).
  void attach(std::shared_ptr<const Model> model, const BackendChoice& backend = {});
  // Same model, backend and loaded weights as `donor` (one copy of the weights on a GPU), with a
  // KV cache and prompt of its own. Both sessions must then be used from the same thread.
  void attachSharing(const Session& donor);
  bool loaded() const { return m_model != nullptr; }
  const Model& model() const;
  std::shared_ptr<const Model> modelPtr() const { return m_model; }
  std::string backendName() const;
  // Why the requested backend was not used ("" when it was).
  const std::string& backendNote() const { return m_backendNote; }

  // addBos: -1 = the vocabulary's default, 0 = no, 1 = yes.
  void setPrompt(const std::string& text, int addBos = -1);
  void setPromptIds(const std::vector<int32_t>& ids);
  const std::vector<int32_t>& promptIds() const { return m_ids; }

  // A pipeline over several processes (runtime/dist) takes every pass from the engine
  // (Engine::setPipeline): run(), generate() and the analyses go through it alike.
  std::shared_ptr<const Trace> run(const RunRequest& req = {}, const RunProgress& progress = {});
  // Probabilities [T, T] of one head (head < 0: mean over heads) recomputed from the trace's Q/K.
  // rowBegin > 0: only query rows [rowBegin, T) are computed (earlier rows are zeros), for a
  // caller that kept them from a previous map (a row depends only on the tokens up to it).
  std::vector<float> attentionMap(const Trace& trace, int layer, int head, int rowBegin = 0);
  Generation generate(const GenerateRequest& req, const TokenCallback& onToken = {},
                      const RunProgress& progress = {});

  Engine& engine();  // tests and benchmarks
  void resetCache();

 private:
  void selectInputs(const std::optional<TokenSubset>& subset, std::vector<int32_t>& ids,
                    std::vector<int32_t>& pos, std::vector<int32_t>& promptIndex) const;

  std::shared_ptr<const Model> m_model;
  std::shared_ptr<kern::Backend> m_backend;  // shared with traces holding backend buffers
  std::unique_ptr<Engine> m_engine;
  std::string m_backendNote;
  std::string m_text;
  std::vector<int32_t> m_ids;
  std::vector<std::string> m_pieces;
  std::vector<std::pair<int, int>> m_spans;
};

// Parses "cpu", "cpu:4", "cuda", "reference" style names into a choice (throws on unknown names).
// cpuMath: "precise", "fast" or empty (LAYERLENS_CPU_MATH); throws on other values.
BackendChoice parseBackend(const std::string& name, int threads, const std::string& cpuMath = {});

}  // namespace ll::rt
