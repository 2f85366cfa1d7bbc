// GGUF reader on the real model files: every file under models/ opens, metadata and tensor
// tables agree with the independent reference model.json files.
#include <fstream>

#include <nlohmann/json.hpp>

#include "lltest.h"
#include "not_yet_supported.h"
#include "runtime/formats/gguf.h"

namespace fs = std::filesystem;
using ll::rt::GgufFile;

namespace {

std::vector<fs::path> ggufFiles(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".gguf") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json readJson(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

}  // namespace

LL_TEST(everyGgufOpens) {
  LL_REQUIRE_SHARED();
  const fs::path shared = lltest::sharedDir();
  auto files = ggufFiles(shared / "models");
  QVERIFY(files.size() >= 30);
  const auto pending = lltest::notYetSupportedFiles(shared);
  for (const auto& p : files) {
    const std::string rel = fs::relative(p, shared).generic_string();
    if (auto it = pending.find(rel); it != pending.end()) {
      lltest::reportNotYetSupported("everyGgufOpens", rel, it->second);
      continue;
    }
    auto f = GgufFile::open(p);
    QVERIFY2(f->version() == 2 || f->version() == 3, p.c_str());
    QVERIFY2(f->getString("general.architecture").has_value(), p.c_str());
    QVERIFY(f->fileSize() == fs::file_size(p));
    bool vocabOnly = p.parent_path().filename() == "vocab";
    QVERIFY2(vocabOnly == f->tensors().empty(), p.c_str());
    // Tokenizer metadata is present everywhere and the token list parses as strings.
    auto tokens = f->getStringArray("tokenizer.ggml.tokens");
    QVERIFY2(!tokens.empty(), p.c_str());
    for (const auto& t : f->tensors()) {
      QVERIFY(t.data >= f->mapping()->data());
      QVERIFY(t.data + t.nbytes <= f->mapping()->data() + f->mapping()->size());
      QCOMPARE(t.nbytes, ll::kern::rowBytes(t.type, t.ne[0]) * size_t(t.nElements() / t.ne[0]));
      QVERIFY(f->tensor(t.name) == &t);
    }
  }
}

LL_TEST(metadataMatchesReference) {
  LL_REQUIRE_SHARED();
  const fs::path shared = lltest::sharedDir();
  int checked = 0;
  for (const auto& e : fs::directory_iterator(shared / "reference")) {
    fs::path mj = e.path() / "model.json";
    if (!fs::exists(mj)) continue;
    auto ref = readJson(mj);
    if (const std::string why = lltest::notYetSupportedReason(ref); !why.empty()) {
      lltest::reportNotYetSupported("metadataMatchesReference", ref["model_file"], why);
      continue;
    }
    auto f = GgufFile::open(shared / ref["model_file"].get<std::string>());
    const std::string arch = ref["arch"];
    QCOMPARE(*f->getString("general.architecture"), arch);
    QCOMPARE(*f->getInt(arch + ".block_count"), ref["n_layer"].get<int64_t>());
    QCOMPARE(*f->getInt(arch + ".embedding_length"), ref["n_embd"].get<int64_t>());
    QCOMPARE(*f->getInt(arch + ".attention.head_count"), ref["n_head"].get<int64_t>());
    QCOMPARE(*f->getInt(arch + ".context_length"), ref["n_ctx_train"].get<int64_t>());
    QCOMPARE(int64_t(f->getStringArray("tokenizer.ggml.tokens").size()),
             ref["n_vocab"].get<int64_t>());
    QCOMPARE(*f->getString("tokenizer.ggml.model"), ref["tokenizer_model"].get<std::string>());
    QCOMPARE(int64_t(f->tensors().size()), ref["n_tensors"].get<int64_t>());
    std::map<std::string, int64_t> counts;
    for (const auto& t : f->tensors()) counts[std::string(ll::kern::qtypeName(t.type))]++;
    for (auto& [k, v] : ref["tensor_types"].items()) QCOMPARE(counts[k], v.get<int64_t>());
    QCOMPARE(counts.size(), ref["tensor_types"].size());
    ++checked;
  }
  QVERIFY(checked >= 20);
}

LL_TEST(typedGetters) {
  LL_REQUIRE_SHARED();
  auto f = GgufFile::open(lltest::sharedDir() / "models/stories260K.gguf");
  QCOMPARE(f->getStringArray("tokenizer.ggml.tokens").size(), size_t(512));
  QCOMPARE(f->getFloatArray("tokenizer.ggml.scores").size(), size_t(512));
  QCOMPARE(f->getIntArray("tokenizer.ggml.token_type").size(), size_t(512));
  QVERIFY(f->getStringArray("no.such.key").empty());
  QVERIFY(!f->getInt("no.such.key"));
  QVERIFY(!f->getString("llama.block_count"));  // wrong type -> nullopt
  bool threw = false;
  try {
    f->getStringArray("llama.block_count");
  } catch (const ll::rt::FormatError& e) {
    threw = std::string(e.what()).find("stories260K.gguf") != std::string::npos;
  }
  QVERIFY(threw);
  const auto* emb = f->tensor("token_embd.weight");
  QVERIFY(emb != nullptr);
  QCOMPARE(emb->ne.size(), size_t(2));
  QCOMPARE(emb->ne[0], int64_t(64));
  QCOMPARE(emb->ne[1], int64_t(512));
}

LL_TEST_MAIN("tst_gguf")
