// The built layerlens-cli on the new families: `info` reports each fixture's shape as its
// shared/reference/<id>/model.json gives it (layers, width, heads, head dim, vocabulary, context,
// experts, sliding window and its layers, soft-caps, embedding scale, sinks, RoPE variants, tensor
// counts) and a vocabulary-only GGUF's header as the GGUF reader reads it; the analysis commands
// print "warnings" where a sliding window limits the method (selection at a windowed layer,
// GemFilter's compressed prompt, knockout edges the window hides, induction stripes beyond it) and
// none on a model without windows; select reports the k it ran with and why a method keeps more
// (the sentences of runtime/analysis/selection_reasons.h, in the JSON and on stderr). Skips when
// the CLI was not built.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <set>

#include "cli_process.h"
#include "parity_common.h"
#include "runtime/analysis/selection_reasons.h"
#include "runtime/formats/gguf.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using clitest::cliPath;
using clitest::runCapture;

// Runs the CLI (stderr dropped) and parses its JSON output.
json cliJson(const std::string& args) {
  const auto cli = cliPath();
  if (cli.empty()) throw lltest::Skip{"layerlens-cli not built next to the tests"};
  int rc = -1;
  const std::string out = runCapture(cli.string() + " " + args + " 2>/dev/null", &rc);
  if (rc != 0) lltest::fail("layerlens-cli " + args + " failed:\n" + out, __FILE__, __LINE__);
  try {
    return json::parse(out);
  } catch (const std::exception& e) {
    lltest::fail("not JSON (" + std::string(e.what()) + "):\n" + out, __FILE__, __LINE__);
  }
}

bool near(double a, double b, double rel = 1e-5) {
  return std::fabs(a - b) <= rel * std::max({1.0, std::fabs(a), std::fabs(b)});
}

const char* kIds[] = {"qwen3-tiny",  "qwen3moe-tiny", "gemma2-tiny",
                      "gemma3-tiny", "phi3-tiny",     "gpt-oss-tiny"};

std::string parkIds(const fs::path& shared, const std::string& id) {
  const auto j = parity::readJson(shared / "reference" / id / "park" / "tokens.json");
  std::string s;
  for (const auto& v : j["ids"]) s += (s.empty() ? "" : ",") + std::to_string(v.get<int>());
  return s;
}

std::string joined(const json& warnings) {
  std::string s;
  for (const auto& w : warnings) s += w.get<std::string>() + "\n";
  return s;
}

}  // namespace

LL_TEST(infoReportsEachFamilysShape) {
  const auto shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("no shared data");
  for (const char* id : kIds) {
    const auto ref = parity::readJson(shared / "reference" / id / "model.json");
    const json j = cliJson("info " + (shared / ref["model_file"].get<std::string>()).string());
    const json& s = j["spec"];
    const std::string what = std::string(id) + ": " + s.dump();
    QVERIFY2(j["loadable"] == true, what);
    QVERIFY2(j["architecture"] == ref["arch"], what);
    for (const char* k : {"n_layer", "n_embd", "n_head", "n_head_kv", "head_dim", "n_vocab"})
      QVERIFY2(s[k] == ref[k], what + " / " + k);
    QVERIFY2(s["n_ctx"] == ref["n_ctx_train"], what);
    const bool moe = ref.contains("n_expert");
    QVERIFY2(s["n_expert"] == (moe ? ref["n_expert"] : json(0)), what);
    QVERIFY2(s["n_expert_used"] == (moe ? ref["n_expert_used"] : json(0)), what);
    if (moe) {
      QVERIFY2(s["n_ff_expert"] == ref["n_ff_exp"], what);
      if (ref["expert_weights_renormalised"] == true)
        QVERIFY2(s["expert_weights_norm"] == true, what);
    } else {
      QVERIFY2(s["n_ff"] == ref["n_ff"], what);
    }
    QVERIFY2(s["sliding_window"] == ref.value("sliding_window", 0), what);
    QVERIFY2(s["swa_layers"] == ref.value("swa_layers", json::array()), what);
    QVERIFY2(near(s["attn_logit_softcap"], ref.value("attn_logit_softcapping", 0.0)), what);
    QVERIFY2(near(s["final_logit_softcap"], ref.value("final_logit_softcapping", 0.0)), what);
    QVERIFY2(near(s["embedding_scale"], ref.value("embedding_scale", 0.0)), what);
    QVERIFY2(s["attention_sinks"] == ref.value("attention_sinks", false), what);
    QVERIFY2(near(s["attn_scale"], ref["attn_scale"]), what);
    QVERIFY2(near(s["norm_eps"], ref["rms_eps"]), what);
    QVERIFY2(s["tied_output"] == ref["tied_output"], what);
    const json& r = s["rope"];
    QVERIFY2(r["neox"] == (ref["rope_type"] == "neox"), what);
    if (ref.contains("rope_freq_base_per_layer")) {
      // Gemma 3: the global layers' base, and the local (windowed) layers' base.
      const auto& b = ref["rope_freq_base_per_layer"];
      const int last = ref["n_layer"].get<int>() - 1;
      QVERIFY2(near(r["base"], b[last]), what);
      QVERIFY2(near(r["local_layers_base"], b[ref["swa_layers"][0].get<int>()]), what);
      QVERIFY2(near(r["freq_scale"], ref["rope_freq_scale_per_layer"][last]), what);
    } else {
      QVERIFY2(near(r["base"], ref["rope_freq_base"]), what);
      QVERIFY2(near(r["freq_scale"], ref.value("rope_freq_scale", 1.0)), what);
    }
    if (ref.contains("rope_attn_factor")) {  // Phi-3 LongRoPE
      QVERIFY2(near(r["attn_factor"], ref["rope_attn_factor"]), what);
      QVERIFY2(r["freq_factors"].get<int>() == ref["head_dim"].get<int>() / 2, what);
    }
    if (ref.contains("rope_scaling")) {  // gpt-oss YaRN
      const auto& y = ref["rope_scaling"];
      QVERIFY2(near(r["yarn_ext_factor"], y["ext_factor"]), what);
      QVERIFY2(r["yarn_original_context"] == y["n_ctx_orig"], what);
      QVERIFY2(near(r["yarn_beta_fast"], y["beta_fast"]), what);
      QVERIFY2(near(r["yarn_beta_slow"], y["beta_slow"]), what);
    }
    QVERIFY2(j["tensor_count"] == ref["n_tensors"], what);
    QVERIFY2(j["tensor_types"] == ref["tensor_types"], what);
    QVERIFY2(j["tokenizer"]["model"] == ref["tokenizer_model"], what);
  }
}

// A vocabulary-only GGUF (no tensors) is not loadable, but info prints its header: compared with
// the GGUF reader's view of the same file.
LL_TEST(infoOnVocabOnlyFile) {
  const auto shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("no shared data");
  const auto path = shared / "models/vocab/ggml-vocab-phi-3.gguf";
  if (!fs::exists(path)) QSKIP("ggml-vocab-phi-3.gguf not found");
  const json j = cliJson("info " + path.string());
  auto f = ll::rt::GgufFile::open(path);
  QVERIFY2(j["loadable"] == false, j.dump());
  QVERIFY(j["reason"].get<std::string>().find("vocabulary-only") != std::string::npos);
  QCOMPARE(j["tensor_count"].get<int>(), 0);
  QCOMPARE(j["architecture"].get<std::string>(), f->getString("general.architecture").value());
  QCOMPARE(j["architecture"].get<std::string>(), std::string("phi3"));
  QCOMPARE(j["gguf_version"].get<uint64_t>(), uint64_t(f->version()));
  QCOMPARE(j["gguf_metadata_keys"].get<size_t>(), f->metadata().size());
  QCOMPARE(j["file_size"].get<uint64_t>(), uint64_t(fs::file_size(path)));
  QCOMPARE(j["tokenizer"]["model"].get<std::string>(), std::string("llama"));
  QCOMPARE(j["tokenizer"]["vocab_size"].get<size_t>(),
           f->getStringArray("tokenizer.ggml.tokens").size());
  QVERIFY(j["tokenizer"]["vocab_size"].get<size_t>() > 32000);
}

// select on Gemma 2 (window 8 on even layers) with the 27-token park prompt: GemFilter, SnapKV and
// PromptDistill at a windowed layer warn with the layer and window, at a full layer they do not;
// GemFilter's answer warns about the compressed prompt exactly when the kept tokens span more
// than the window. Qwen 3 (no window) never warns.
LL_TEST(selectWarnsAtSlidingWindowLayers) {
  const auto shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("no shared data");
  const std::string g = (shared / "models/gemma2-tiny.gguf").string() + " --threads 2 --ids " +
                        parkIds(shared, "gemma2-tiny");
  json j = cliJson("select " + g + " --method gemfilter --layer 0 --k 8 --answer 2");
  std::string w = joined(j["warnings"]);
  QVERIFY2(w.find("GemFilter at layer 0 (a sliding-window layer, window 8): the last query "
                  "(token 26) cannot see keys older than the window") != std::string::npos,
           w);
  const auto kept = j["kept"].get<std::vector<int>>();
  QCOMPARE(kept.size(), size_t(8));
  // Eight kept tokens all fit one window of the compressed prompt: by position the last one sees
  // only those less than 8 back, so the two differ iff the kept tokens span 8 or more positions.
  const bool spans = kept.back() - kept.front() >= 8;
  QCOMPARE(w.find("compressed prompt (kept tokens re-indexed)") != std::string::npos, spans);
  if (spans)
    QVERIFY2(w.find("counts kept tokens, not their original positions") != std::string::npos, w);
  QVERIFY(!j["answer"]["kept"]["ids"].empty());

  j = cliJson("select " + g + " --method gemfilter --layer 1 --k 8");
  QVERIFY2(j["warnings"].empty(), j["warnings"].dump());
  j = cliJson("select " + g + " --method snapkv --layer 2 --k 10 --window 4");
  w = joined(j["warnings"]);
  QVERIFY2(w.find("SnapKV at layer 2 (a sliding-window layer, window 8): its observation "
                  "window's queries (tokens 23..26)") != std::string::npos &&
               w.find("the 16 tokens before token 16 score 0") != std::string::npos,
           w);
  j = cliJson("select " + g + " --method promptdistill --stages 0:12,1:6 --answer 2");
  w = joined(j["warnings"]);
  QCOMPARE(j["warnings"].size(), size_t(1));
  QVERIFY2(w.find("PromptDistill stage at layer 0 (a sliding-window layer, window 8)") == 0, w);
  j = cliJson("select " + g + " --method h2o --layer 3 --k 10 --window 4");
  QVERIFY2(j["warnings"].empty(), j["warnings"].dump());

  const std::string q = (shared / "models/qwen3-tiny.gguf").string() + " --threads 2 --ids " +
                        parkIds(shared, "qwen3-tiny");
  for (const char* m : {"gemfilter --layer 0 --answer 2", "snapkv --layer 0 --window 4",
                        "promptdistill --stages 0:8"})
    QVERIFY(cliJson("select " + q + " --k 8 --method " + std::string(m))["warnings"].empty());
}

// select's "k_used" and "reason" are what selection_reasons.h says for the kept sets the CLI
// printed (H2O with a recent window wider than k and PromptDistill's always-kept last token must
// explain themselves; GemFilter keeps k and has none), and the reason is also a note on stderr.
LL_TEST(selectExplainsKeepingMoreThanK) {
  const auto shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("no shared data");
  const std::string ids = parkIds(shared, "qwen3-tiny");
  const int T = int(std::count(ids.begin(), ids.end(), ',')) + 1;
  const std::string q = (shared / "models/qwen3-tiny.gguf").string() + " --threads 2 --ids " + ids;
  // The CLI's per-head result as a Selection (the kept set is the union over heads).
  const auto perHead = [](const json& j) {
    ll::rt::ana::Selection r;
    r.keptPerHead = j["kept_per_head"].get<std::vector<std::vector<int>>>();
    std::set<int> u;
    for (const auto& h : r.keptPerHead) u.insert(h.begin(), h.end());
    r.kept.assign(u.begin(), u.end());
    return r;
  };
  const auto stderrOf = [&](const std::string& args) {
    int rc = -1;
    const std::string err = runCapture(cliPath().string() + " " + args + " 2>&1 >/dev/null", &rc);
    QCOMPARE(rc, 0);
    return err;
  };

  json j = cliJson("select " + q + " --method h2o --layer 1 --k 2 --window 4");
  QCOMPARE(j["k_used"].get<int>(), 2);
  std::string want = ll::rt::ana::h2oKeepReason(perHead(j), 2, T, 0, 4);
  QVERIFY2(want.rfind("H2O keeps ", 0) == 0, want);
  QCOMPARE(j.value("reason", std::string()), want);
  std::string err = stderrOf("select " + q + " --method h2o --layer 1 --k 2 --window 4");
  QVERIFY2(err.find("note: " + want + "\n") != std::string::npos, err);

  // SnapKV: whether the union over heads exceeds k depends on the heads; either way the CLI
  // says what the function says (and nothing when it is "").
  j = cliJson("select " + q + " --method snapkv --layer 1 --k 6 --window 4");
  QCOMPARE(j["k_used"].get<int>(), 6);
  want = ll::rt::ana::snapKvKeepReason(perHead(j), 6, T, 6, 4);
  QCOMPARE(j.value("reason", std::string()), want);
  QCOMPARE(j.contains("reason"), !want.empty());

  j = cliJson("select " + q + " --method promptdistill --stages 0:12,1:6");
  QCOMPARE(j["k_used"].get<int>(), 6);  // the last stage's k
  const auto kept = j["kept_per_stage"].get<std::vector<std::vector<int>>>();
  want = ll::rt::ana::promptDistillKeepReason({{0, 12}, {1, 6}}, kept, 6);
  QVERIFY2(want.rfind("PromptDistill keeps 7 > k = 6: ", 0) == 0, want);
  QCOMPARE(j.value("reason", std::string()), want);
  err = stderrOf("select " + q + " --method promptdistill --stages 0:12,1:6");
  QVERIFY2(err.find("note: " + want + "\n") != std::string::npos, err);

  j = cliJson("select " + q + " --method gemfilter --layer 1 --k 8");
  QCOMPARE(j["k_used"].get<int>(), 8);
  QVERIFY2(!j.contains("reason"), j.dump());
}

// knockout: the default "last" -> "all-but-last" around a windowed layer counts the edges the
// window hides already; the induction score names the layers whose window hides the stripe.
LL_TEST(knockoutAndInductionWarnings) {
  const auto shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("no shared data");
  const std::string phi = (shared / "models/phi3-tiny.gguf").string() + " --threads 2";
  json j = cliJson("knockout " + phi + " --ids " + parkIds(shared, "phi3-tiny") + " --layer 1");
  std::string w = joined(j["warnings"]);
  // Query 26 and keys 0..25: the 19 keys 0..18 are 8 or more back.
  QVERIFY2(w.find("layers 0, 1, 2 (window 8) 19 of the 26 blocked query-key edges lie outside "
                  "the window already") != std::string::npos,
           w);
  j = cliJson("knockout " + phi + " --ids " + parkIds(shared, "phi3-tiny") +
              " --layer 1 --to 20-25");
  QVERIFY2(j["warnings"].empty(), j["warnings"].dump());
  j = cliJson("attention " + phi + " --induction 12");
  w = joined(j["warnings"]);
  QVERIFY2(w.find("induction score with n = 12: the stripe lies 11 tokens back") == 0, w);
  // The hidden layers score 0 indeed.
  for (const auto& row : j["induction_score"])
    for (const auto& v : row) QCOMPARE(v.get<double>(), 0.0);
  QVERIFY(cliJson("attention " + phi + " --induction 8")["warnings"].empty());
}

LL_TEST_MAIN("tst_cli_families")
