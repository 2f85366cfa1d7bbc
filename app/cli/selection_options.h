// The CLI options of a token selection (rt::ana::SelectionRequest): --method, --layer, --k,
// --window, --recent, --kernel, --max-pool, --stages and --kv-trim with the request type's defaults
// and help, shared by `select` and `figure --view selection`. Header only, so tests can parse the
// CLI's default request without running the executable.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "runtime/analysis/selection_request.h"

namespace ll::cli {

struct SelectionOptionSet {
  bool methodAndLayer = true;  // false: the command has its own --method / --layer (figure)
  // methodAndLayer false: the command's own --method text (empty: the request's method).
  const std::string* method = nullptr;
};

// Adds the options writing into `req`; call the returned function after parsing (it reads
// --method and lets `--window` name H2O's recent tokens, as it did before --recent existed).
inline std::function<void()> addSelectionOptions(CLI::App& sub, rt::ana::SelectionRequest& req,
                                                 SelectionOptionSet set = {}) {
  namespace ana = rt::ana;
  auto method = std::make_shared<std::string>(ana::selectionMethodKey(req.method));
  if (set.methodAndLayer)
    sub.add_option("--method", *method, "gemfilter, snapkv, h2o or promptdistill")
        ->capture_default_str();
  CLI::Option* window = nullptr;
  CLI::Option* recent = nullptr;
  for (const auto& p : ana::selectionIntParams()) {
    if (!set.methodAndLayer && p.field == &ana::SelectionRequest::layer) continue;
    std::string help = ana::selectionParamHelp(p);
    if (p.field == &ana::SelectionRequest::window) help += "; with --method h2o: --recent";
    CLI::Option* o = sub.add_option("--" + std::string(p.name), req.*p.field, help);
    if (p.field == &ana::SelectionRequest::window) window = o;
    if (p.field == &ana::SelectionRequest::recent) recent = o;
  }
  sub.add_flag("--max-pool", req.maxPool, "SnapKV: max pooling instead of average");
  sub.add_option("--stages", req.stages,
                 "PromptDistill stages L1:K1,L2:K2 (default: one stage, --layer:--k)");
  return [&req, method, window, recent, set] {
    const std::string& text = set.method && !set.method->empty() ? *set.method : *method;
    const auto m = ana::parseSelectionMethod(text);
    if (!m)
      throw std::invalid_argument("unknown selection method '" + text +
                                  "' (gemfilter, snapkv, h2o, promptdistill)");
    req.method = *m;
    if (req.method == ana::SelectionMethod::H2O && window->count() > 0 && recent->count() == 0)
      req.recent = req.window;
  };
}

// The request `select` runs when given no selection option (what --help shows as defaults).
inline rt::ana::SelectionRequest defaultCliSelectionRequest() {
  CLI::App app;
  rt::ana::SelectionRequest req;
  const auto finish = addSelectionOptions(app, req);
  app.parse(std::vector<std::string>{});
  finish();
  return req;
}

}  // namespace ll::cli
