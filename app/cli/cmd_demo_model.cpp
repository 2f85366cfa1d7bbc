// `layerlens-cli demo-model --out demo.gguf`: writes the built-in demo model (constructed
// previous-token, induction and sink heads and a class-routing MoE layer; see
// runtime/demo/demo_model.h) as a normal GGUF that every other subcommand and the GUI can open.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "command.h"
#include "runtime/demo/demo_model.h"

namespace ll::cli {
namespace {

int runDemoModel(const std::string& out) {
  rt::demo::writeDemoModel(out);
  std::printf("wrote %s (%llu bytes): 2-layer llama, 2 heads/layer, 4-expert MoE\n", out.c_str(),
              static_cast<unsigned long long>(std::filesystem::file_size(out)));
  std::printf("  layer 0 head 0: previous-token head   layer 0 head 1: current-token head\n");
  std::printf("  layer 1 head 0: induction head        layer 1 head 1: <s> sink head\n");
  std::printf("  layer 1 router: vowels->0 consonants->1 digits->2 other->3\n");
  return 0;
}

const RegisterCommand kDemoModel{
    Command{"demo-model", "write the built-in demo model (constructed weights) as a GGUF file",
            [](CLI::App& sub) -> std::function<int()> {
              auto out = std::make_shared<std::string>("demo.gguf");
              sub.add_option("--out,-o", *out, "output GGUF path")->capture_default_str();
              return [out] { return runDemoModel(*out); };
            }}};

}  // namespace
}  // namespace ll::cli
