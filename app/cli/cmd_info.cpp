// `layerlens-cli info MODEL`: what a model file is (format, architecture, every ModelSpec field,
// tensor counts per type, tokenizer) as JSON, without running it.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cli_session.h"
#include "command.h"
#include "runtime/api/model_info.h"
#include "runtime/formats/gguf.h"
#include "runtime/model/model.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::cli {
namespace {

// A GGUF without tensors (a vocabulary file) is not a model, but its header is still worth showing.
bool printVocabOnlyGguf(const std::string& modelPath) {
  std::unique_ptr<rt::GgufFile> f;
  try {
    f = rt::GgufFile::open(modelPath);
  } catch (const rt::FormatError&) {
    return false;
  }
  if (!f->tensors().empty()) return false;
  nlohmann::ordered_json j;
  j["path"] = modelPath;
  j["format"] = "gguf";
  j["loadable"] = false;
  j["reason"] = "no tensors (vocabulary-only file)";
  j["file_size"] = f->fileSize();
  j["architecture"] = f->getString("general.architecture").value_or("");
  j["gguf_version"] = f->version();
  j["gguf_metadata_keys"] = f->metadata().size();
  j["tensor_count"] = 0;
  j["tokenizer"] = {{"model", f->getString("tokenizer.ggml.model").value_or("")},
                    {"pre", f->getString("tokenizer.ggml.pre").value_or("")},
                    {"vocab_size", f->getStringArray("tokenizer.ggml.tokens").size()}};
  std::printf("%s\n", j.dump(2).c_str());
  return true;
}

int runInfo(const std::string& modelPath, const std::string& tokenizerPath,
            const ServerTarget& target) {
  if (target.remote()) {
    if (!tokenizerPath.empty())
      throw std::invalid_argument("info: --tokenizer is not available with --server");
    std::printf("%s\n", openRemoteSession(modelPath, "cpu", 0, target)->infoJson().c_str());
    return 0;
  }
  if (printVocabOnlyGguf(modelPath)) return 0;
  auto model = rt::loadModel(modelPath, {}, tokenizerPath);
  std::printf("%s\n", rt::modelInfoJson(*model, model->path.string()).dump(2).c_str());
  return 0;
}

struct InfoOpts {
  std::string model, tokenizer;
  ServerTarget target;
};

const RegisterCommand kInfo{Command{
    "info", "Print a model's format, architecture, hyperparameters and tensor types as JSON",
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<InfoOpts>();
      sub.add_option("model", o->model, "GGUF file, Hugging Face folder or llama2.c .bin")
          ->required();
      sub.add_option("--tokenizer", o->tokenizer,
                     "tokenizer for a llama2.c checkpoint (default: tok<N>.bin next to it)");
      addServerOptions(sub, o->target);
      return [o] { return runInfo(o->model, o->tokenizer, o->target); };
    }}};

}  // namespace
}  // namespace ll::cli
