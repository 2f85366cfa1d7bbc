// ListModels (issue 17): the server lists the .gguf files and Hugging Face safetensors folders
// under its --models folder (paths relative to it, sizes, a folder's architecture) — the shared
// fixtures included; bounded in depth (a deeper model is left out and the reply says it may be
// incomplete); symlinks that lead outside the folder are not followed, those inside are; a server
// with a token refuses the call without it. Skips without gRPC.
#include "lltest.h"

#ifndef LAYERLENS_HAVE_REMOTE
LL_TEST(remoteTests) {
  QSKIP("built without gRPC (libgrpc++-dev, protobuf-compiler-grpc)");
}
#else
#include <unistd.h>

#include <algorithm>

#include "remote_test.h"

namespace {

using namespace remotetest;
using namespace ll;

const remote::ListedModel* find(const remote::ModelListing& l, const std::string& path) {
  for (const auto& m : l.models)
    if (m.path == path) return &m;
  return nullptr;
}

void touch(const fs::path& p, const std::string& text = "GGUF") {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

}  // namespace

LL_TEST(listsTheSharedFixtures) {
  ServerProcess srv(cli(), {"--models", models().string()});
  remote::RemoteSession s(client(srv));
  const remote::ModelListing l = s.listModels();  // no session opened: none needed
  QVERIFY(!l.truncated);
  const auto* stories = find(l, "stories260K.gguf");
  QVERIFY(stories);
  QCOMPARE(stories->format, std::string("gguf"));
  QCOMPARE(stories->bytes, int64_t(fs::file_size(models() / "stories260K.gguf")));
  QVERIFY(find(l, "stories260K-moe4.gguf"));
  QVERIFY(find(l, "quant/llama-quant-Q8_0.gguf"));
  const auto* hf = find(l, "hf/stories260K");
  QVERIFY(hf);
  QCOMPARE(hf->format, std::string("safetensors"));
  QCOMPARE(hf->arch, std::string("llama"));
  QCOMPARE(hf->bytes, int64_t(fs::file_size(models() / "hf/stories260K/model.safetensors")));
  // Every listed path opens (the listing names what OpenSession takes), sorted.
  QVERIFY(std::is_sorted(l.models.begin(), l.models.end(),
                         [](const auto& a, const auto& b) { return a.path < b.path; }));
  for (const auto& m : l.models) QVERIFY2(fs::exists(models() / m.path), m.path);
  remote::RemoteSession open(client(srv));
  open.open(hf->path);
  QCOMPARE(open.info().spec.nLayer, 5);
}

LL_TEST(listingStaysInsideTheFolderAndItsDepth) {
  const fs::path base = fs::temp_directory_path() / ("ll-list-" + std::to_string(getpid()));
  fs::remove_all(base);
  const fs::path root = base / "models", outside = base / "elsewhere";
  touch(root / "a.gguf");
  touch(root / "notes.txt");
  touch(root / "d1/d2/d3/d4/deep4.gguf");
  touch(root / "d1/d2/d3/d4/d5/deep5.gguf");
  touch(root / "hf/m/config.json", R"({"model_type": "qwen2"})");
  touch(root / "hf/m/model.safetensors", "0123456789");
  touch(root / "hf/nocfg/model.safetensors");
  touch(outside / "secret.gguf");
  fs::create_directory_symlink(outside, root / "out");
  fs::create_symlink(outside / "secret.gguf", root / "leak.gguf");
  fs::create_symlink(root / "a.gguf", root / "alias.gguf");
  ServerProcess srv(cli(), {"--models", root.string()});
  remote::RemoteSession s(client(srv));
  const remote::ModelListing l = s.listModels();
  std::vector<std::string> paths;
  for (const auto& m : l.models) paths.push_back(m.path);
  const std::vector<std::string> want = {"a.gguf", "alias.gguf", "d1/d2/d3/d4/deep4.gguf", "hf/m"};
  QVERIFY(paths == want);
  QCOMPARE(find(l, "hf/m")->arch, std::string("qwen2"));
  QCOMPARE(find(l, "hf/m")->bytes, int64_t(10));
  QCOMPARE(find(l, "a.gguf")->bytes, int64_t(4));
  QVERIFY(l.truncated);  // d5 lies past the depth bound
  fs::remove_all(base);
}

LL_TEST(listingNeedsTheToken) {
  const fs::path tok = fs::temp_directory_path() / ("ll-list-token-" + std::to_string(getpid()));
  std::ofstream(tok) << "s3cret-token\n";
  ServerProcess srv(cli(), {"--models", models().string(), "--token-file", tok.string()});
  const auto code = [&](const std::string& token) {
    Raw raw(srv.address(), token);
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::ListModelsReply rep;
    const grpc::Status st = raw.stub->ListModels(&ctx, pb::ListModelsRequest{}, &rep);
    return std::make_pair(st.error_code(), rep.models_size());
  };
  const auto none = code("");
  QCOMPARE(int(none.first), int(grpc::StatusCode::UNAUTHENTICATED));
  QCOMPARE(none.second, 0);
  QCOMPARE(int(code("wrong").first), int(grpc::StatusCode::UNAUTHENTICATED));
  const auto ok = code("s3cret-token");
  QCOMPARE(int(ok.first), int(grpc::StatusCode::OK));
  QVERIFY(ok.second > 0);
  fs::remove(tok);
}

#endif

LL_TEST_MAIN("tst_remote_list_models")
