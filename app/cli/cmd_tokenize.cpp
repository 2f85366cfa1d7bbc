// `layerlens-cli tokenize MODEL --text TEXT`: the model's own tokenization of TEXT as JSON
// {"ids", "pieces", "spans"}. MODEL is a GGUF (vocab-only files work: only tokenizer.ggml.* is
// read), a Hugging Face folder or tokenizer.json, or a llama2.c tok*.bin.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_session.h"
#include "command.h"
#include "runtime/formats/gguf.h"
#include "runtime/formats/mapped_file.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::cli {
namespace {

namespace fs = std::filesystem;

struct TokenizeOpts {
  std::string model;
  std::string text;
  bool bos = false, noBos = false, parseSpecial = false;
  ServerTarget target;
};

bool hasGgufMagic(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  char magic[4] = {};
  return f.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

std::unique_ptr<rt::Tokenizer> loadTokenizer(const fs::path& model) {
  std::error_code ec;
  if (fs::is_directory(model, ec)) {
    const fs::path json = model / "tokenizer.json";
    if (!fs::is_regular_file(json, ec))
      throw rt::FormatError(model, "folder has no tokenizer.json");
    return rt::makeTokenizer(rt::vocabFromTokenizerJson(json));
  }
  if (!fs::exists(model, ec)) throw rt::FormatError(model, "no such file");
  if (hasGgufMagic(model)) {
    const auto gguf = rt::GgufFile::open(model);
    return rt::makeTokenizer(rt::vocabFromGguf(*gguf));
  }
  if (model.extension() == ".json") return rt::makeTokenizer(rt::vocabFromTokenizerJson(model));
  return rt::makeTokenizer(rt::vocabFromLlama2c(model));
}

int runTokenize(const TokenizeOpts& o) {
  if (o.bos && o.noBos) {
    std::fprintf(stderr, "layerlens-cli tokenize: --bos and --no-bos exclude each other\n");
    return 2;
  }
  const int addBos = o.bos ? 1 : o.noBos ? 0 : -1;
  const rt::Encoding e =
      o.target.remote()
          ? openRemoteSession(o.model, "cpu", 0, o.target)->tokenize(o.text, addBos, o.parseSpecial)
          : loadTokenizer(o.model)->encode(o.text, addBos, o.parseSpecial);
  nlohmann::ordered_json j;
  j["ids"] = e.ids;
  j["pieces"] = e.pieces;
  auto spans = nlohmann::json::array();
  for (const auto& [b, en] : e.spans) spans.push_back({b, en});
  j["spans"] = spans;
  // Byte tokens may hold part of a character: those bytes print as U+FFFD.
  std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return 0;
}

const RegisterCommand kTokenize{Command{
    "tokenize", "Tokenize text with a model's tokenizer: ids, pieces and byte spans as JSON",
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<TokenizeOpts>();
      sub.add_option("model", o->model,
                     "GGUF file, Hugging Face folder / tokenizer.json, or llama2.c tok*.bin")
          ->required();
      sub.add_option("--text", o->text, "text to tokenize (exact bytes)")->required();
      sub.add_flag("--bos", o->bos, "always start with BOS");
      sub.add_flag("--no-bos", o->noBos, "no BOS/EOS (default: the vocabulary's own setting)");
      sub.add_flag("--parse-special", o->parseSpecial,
                   "match control-token text such as <s> in TEXT as those tokens");
      addServerOptions(sub, o->target);
      return [o] { return runTokenize(*o); };
    }}};

}  // namespace
}  // namespace ll::cli
