// Broken GGUF and safetensors files, written by this test into a temp dir: each must give a
// FormatError whose message names the file, never a crash, hang or huge allocation.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "gguf_builder.h"
#include "lltest.h"
#include "runtime/formats/gguf.h"
#include "runtime/formats/safetensors.h"

namespace fs = std::filesystem;
using ll::rt::FormatError;
using lltest::GgufBuilder;

namespace {

fs::path dir() {
  static fs::path d = [] {
    fs::path p = fs::temp_directory_path() / ("ll_tst_bad_input_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return d;
}
// Removes the temp dir when the test binary exits.
// (holds its own copy: the function-local static may be destroyed first)
const struct Cleanup {
  fs::path path = dir();
  ~Cleanup() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
} kCleanup;

// Opens `bytes` written as `name` with `open`; returns the FormatError message ("" if it opened).
template <class Open>
std::string errorOf(const std::string& name, const std::vector<uint8_t>& bytes, Open open) {
  const fs::path p = dir() / name;
  GgufBuilder::writeBytes(p, bytes);
  std::string msg;
  try {
    open(p);
  } catch (const FormatError& e) {
    msg = e.what();
    if (msg.find(p.string()) == std::string::npos) msg = "MESSAGE DOES NOT NAME THE FILE: " + msg;
  }
  fs::remove(p);
  return msg;
}

std::string ggufError(const std::string& name, const std::vector<uint8_t>& bytes) {
  return errorOf(name, bytes, [](const fs::path& p) { ll::rt::GgufFile::open(p); });
}
std::string stError(const std::string& name, const std::vector<uint8_t>& bytes) {
  return errorOf(name, bytes, [](const fs::path& p) { ll::rt::SafetensorsFile::open(p); });
}

#define EXPECT_ERROR(msg, needle)                                                             \
  do {                                                                                        \
    const std::string m_ = (msg);                                                             \
    QVERIFY2(!m_.empty() && m_.find("MESSAGE DOES NOT NAME") == std::string::npos &&          \
                 m_.find(needle) != std::string::npos,                                        \
             "expected an error containing '" + std::string(needle) + "', got '" + m_ + "'"); \
  } while (0)

GgufBuilder small() {
  GgufBuilder g;
  g.kvString("general.architecture", "llama");
  g.kvU32("llama.block_count", 1);
  g.addF32("a.weight", {32, 2});
  g.addF32("b.weight", {32});
  return g;
}

void patch(std::vector<uint8_t>& b, size_t at, const void* v, size_t n) {
  std::memcpy(b.data() + at, v, n);
}

// Byte offset of the first occurrence of `s` (a name in the header).
size_t find(const std::vector<uint8_t>& b, const std::string& s) {
  auto it = std::search(b.begin(), b.end(), s.begin(), s.end());
  return size_t(it - b.begin());
}

// A tensor info sits right after its name: n_dims (4), dims (8 each), type (4), offset (8).
size_t infoAfterName(const std::vector<uint8_t>& b, const std::string& name) {
  return find(b, name) + name.size();
}

std::vector<uint8_t> safetensors(const nlohmann::json& header, size_t dataBytes) {
  std::string h = header.dump();
  while (h.size() % 8) h.push_back(' ');
  std::vector<uint8_t> b;
  GgufBuilder::put<uint64_t>(b, h.size());
  b.insert(b.end(), h.begin(), h.end());
  b.resize(b.size() + dataBytes, 0x3c);
  return b;
}

nlohmann::json stEntry(const char* dtype, std::vector<int64_t> shape, uint64_t begin,
                       uint64_t end) {
  return {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, end}}};
}

}  // namespace

LL_TEST(validControlsOpen) {
  QCOMPARE(ggufError("ok.gguf", small().build()), std::string());
  nlohmann::json h = {{"a", stEntry("F32", {2, 2}, 0, 16)}, {"b", stEntry("F16", {4}, 16, 24)}};
  QCOMPARE(stError("ok.safetensors", safetensors(h, 24)), std::string());
}

LL_TEST(ggufTruncatedAnywhere) {
  const auto full = small().build();
  int checked = 0;
  for (size_t n = 0; n < full.size(); n += (n < 400 ? 1 : 37)) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + long(n));
    const std::string m = ggufError("trunc.gguf", cut);
    QVERIFY2(!m.empty() && m.find("MESSAGE DOES NOT NAME") == std::string::npos,
             "prefix of " + std::to_string(n) + " bytes: '" + m + "'");
    ++checked;
  }
  QVERIFY(checked > 300);
}

LL_TEST(ggufHeader) {
  auto b = small().build();
  b[0] = 'X';
  EXPECT_ERROR(ggufError("magic.gguf", b), "bad magic");
  EXPECT_ERROR(ggufError("empty.gguf", {}), "too small");
  for (uint32_t v : {1u, 99u, 0x03000000u}) {
    auto g = small();
    g.version = v;
    EXPECT_ERROR(ggufError("version.gguf", g.build()),
                 "unsupported GGUF version " + std::to_string(v));
  }
  auto g = small();
  g.tensorCountOverride = uint64_t(1) << 40;
  EXPECT_ERROR(ggufError("tensors.gguf", g.build()), "tensor count 1099511627776 cannot fit");
  g = small();
  g.kvCountOverride = uint64_t(1) << 40;
  EXPECT_ERROR(ggufError("kvs.gguf", g.build()), "metadata count 1099511627776 cannot fit");
  g = small();
  g.kvCountOverride = 3;  // one more than written: the tensor infos are read as metadata
  QVERIFY(!ggufError("kvs3.gguf", g.build()).empty());
}

LL_TEST(ggufMetadata) {
  {  // key length past EOF
    auto b = small().build();
    const uint64_t huge = uint64_t(1) << 62;
    patch(b, 24, &huge, 8);
    EXPECT_ERROR(ggufError("keylen.gguf", b), "claims length 4611686018427387904");
  }
  {  // string value length past EOF
    GgufBuilder g;
    std::vector<uint8_t> v;
    GgufBuilder::put<uint64_t>(v, uint64_t(1) << 40);
    g.kvRaw("general.name", GgufBuilder::STRING, v);
    EXPECT_ERROR(ggufError("strlen.gguf", g.build()), "claims length 1099511627776");
  }
  {  // array that cannot fit
    GgufBuilder g;
    std::vector<uint8_t> v;
    GgufBuilder::put<uint32_t>(v, GgufBuilder::U32);
    GgufBuilder::put<uint64_t>(v, uint64_t(1) << 40);
    g.kvRaw("tokenizer.ggml.scores", GgufBuilder::ARRAY, v);
    EXPECT_ERROR(ggufError("array.gguf", g.build()), "array of 1099511627776 u32 cannot fit");
  }
  {  // 20M one-byte elements fit the file but would cost ~1.3 GB as GgufValues: refused
    GgufBuilder g;
    std::vector<uint8_t> v;
    GgufBuilder::put<uint32_t>(v, GgufBuilder::U8);
    GgufBuilder::put<uint64_t>(v, 20000000);
    v.resize(v.size() + 20000000, 1);
    g.kvRaw("blob", GgufBuilder::ARRAY, v);
    EXPECT_ERROR(ggufError("blob.gguf", g.build()),
                 "metadata arrays hold more than 16777216 elements");
  }
  {  // array of strings whose count fits the bytes but whose strings do not
    GgufBuilder g;
    std::vector<uint8_t> v;
    GgufBuilder::put<uint32_t>(v, GgufBuilder::STRING);
    GgufBuilder::put<uint64_t>(v, 4);
    for (int i = 0; i < 4; ++i) GgufBuilder::put<uint64_t>(v, 1000);
    g.kvRaw("tokenizer.ggml.tokens", GgufBuilder::ARRAY, v);
    EXPECT_ERROR(ggufError("arraystr.gguf", g.build()),
                 "claims length 1000 but only 24 bytes remain");
  }
  {  // arrays nested 100 deep
    GgufBuilder g;
    std::vector<uint8_t> v;
    for (int i = 0; i < 100; ++i) {
      GgufBuilder::put<uint32_t>(v, GgufBuilder::ARRAY);
      GgufBuilder::put<uint64_t>(v, 1);
    }
    GgufBuilder::put<uint32_t>(v, GgufBuilder::U8);
    GgufBuilder::put<uint64_t>(v, 1);
    v.push_back(7);
    g.kvRaw("deep", GgufBuilder::ARRAY, v);
    EXPECT_ERROR(ggufError("deep.gguf", g.build()), "nests arrays deeper");
  }
  {
    GgufBuilder g;
    g.kvRaw("weird", 13, {0, 0, 0, 0});
    EXPECT_ERROR(ggufError("vtype.gguf", g.build()), "unknown value type 13");
  }
  {
    GgufBuilder g;
    g.kvRaw("flag", GgufBuilder::BOOL, {2});
    EXPECT_ERROR(ggufError("bool.gguf", g.build()), "bool value 2");
  }
  {
    auto g = small();
    g.kvU32("llama.block_count", 2);
    EXPECT_ERROR(ggufError("dupkey.gguf", g.build()), "duplicate metadata key 'llama.block_count'");
  }
  for (uint32_t a : {0u, 48u, 3u}) {
    auto g = small();
    g.kvU32("general.alignment", a);
    EXPECT_ERROR(ggufError("align.gguf", g.build()), "power of two");
  }
  {  // a valid non-default alignment is honoured
    auto g = small();
    g.alignment = 64;
    g.kvU32("general.alignment", 64);
    const fs::path p = dir() / "align64.gguf";
    g.write(p);
    auto f = ll::rt::GgufFile::open(p);
    QCOMPARE(f->alignment(), size_t(64));
    QCOMPARE(size_t(f->tensor("b.weight")->data - f->mapping()->data()) % 64, size_t(0));
    fs::remove(p);
  }
}

LL_TEST(ggufTensorInfos) {
  auto withTensor = [](std::vector<int64_t> ne, uint32_t type, size_t bytes) {
    auto g = small();
    g.tensors.push_back({"c.weight", std::move(ne), type, std::vector<uint8_t>(bytes, 0), {}});
    return g;
  };
  EXPECT_ERROR(ggufError("type.gguf", withTensor({32}, 99, 128).build()), "unsupported type id 99");
  EXPECT_ERROR(ggufError("type4.gguf", withTensor({32}, 4, 128).build()), "unsupported type id 4");
  // A ggml type we do not implement (16, IQ2_XXS) is refused naming the tensor and the id; the
  // newest we do (IQ4_NL 20, IQ4_XS 23, MXFP4 39) open with their block sizes.
  EXPECT_ERROR(ggufError("type16.gguf", withTensor({256}, 16, 66).build()),
               "tensor 'c.weight' has unsupported type id 16");
  QCOMPARE(ggufError("iq4nl.gguf", withTensor({64}, 20, 36).build()), std::string());
  QCOMPARE(ggufError("iq4xs.gguf", withTensor({256}, 23, 136).build()), std::string());
  QCOMPARE(ggufError("mxfp4.gguf", withTensor({64}, 39, 34).build()), std::string());
  EXPECT_ERROR(ggufError("mxfp4block.gguf", withTensor({48}, 39, 34).build()),
               "row length 48 is not a multiple of the MXFP4 block size 32");
  EXPECT_ERROR(ggufError("dim0.gguf", withTensor({32, 0}, 0, 0).build()), "has dimension 0");
  EXPECT_ERROR(ggufError("dimneg.gguf", withTensor({-5}, 0, 0).build()), "has dimension -5");
  EXPECT_ERROR(
      ggufError("overflow.gguf", withTensor({int64_t(1) << 40, int64_t(1) << 40}, 0, 0).build()),
      "element count overflows");
  EXPECT_ERROR(ggufError("big.gguf", withTensor({int64_t(1) << 40}, 0, 0).build()),
               "needs more bytes");
  EXPECT_ERROR(ggufError("dims5.gguf", withTensor({1, 1, 1, 1, 1}, 0, 4).build()),
               "has 5 dimensions");
  EXPECT_ERROR(ggufError("block.gguf", withTensor({33}, 2, 18).build()),
               "row length 33 is not a multiple of the Q4_0 block size 32");
  {
    auto g = small();
    g.tensors.push_back(g.tensors[0]);
    EXPECT_ERROR(ggufError("dupname.gguf", g.build()), "duplicate tensor name 'a.weight'");
  }
  {  // data past EOF
    auto b = small().build();
    const uint64_t off = 1 << 20;
    patch(b, infoAfterName(b, "b.weight") + 4 + 8 + 4, &off, 8);
    EXPECT_ERROR(ggufError("pasteof.gguf", b), "runs past the end of the file");
  }
  {  // overlapping
    auto g = small();
    g.tensors[1].offset = 128;  // a.weight spans [0, 256)
    EXPECT_ERROR(ggufError("overlap.gguf", g.build()), "overlaps");
  }
  {  // misaligned
    auto g = small();
    g.tensors[1].offset = 260;
    EXPECT_ERROR(ggufError("misaligned.gguf", g.build()), "is not aligned to 32");
  }
  {  // n_dims absurd
    auto b = small().build();
    const uint32_t nd = 0xFFFFFFFF;
    patch(b, infoAfterName(b, "a.weight"), &nd, 4);
    EXPECT_ERROR(ggufError("ndims.gguf", b), "4294967295 dimensions");
  }
}

LL_TEST(safetensorsHeaders) {
  EXPECT_ERROR(stError("tiny.safetensors", {1, 2, 3}), "too small");
  {
    std::vector<uint8_t> b;
    GgufBuilder::put<uint64_t>(b, 1000);
    b.resize(100, ' ');
    EXPECT_ERROR(stError("hdrlen.safetensors", b), "header length 1000 runs past the end");
    const uint64_t huge = ~uint64_t(0);
    patch(b, 0, &huge, 8);
    EXPECT_ERROR(stError("hdrhuge.safetensors", b), "runs past the end");
  }
  {
    std::string h = "{\"a\": {\"dtype\": ";
    std::vector<uint8_t> b;
    GgufBuilder::put<uint64_t>(b, h.size());
    b.insert(b.end(), h.begin(), h.end());
    EXPECT_ERROR(stError("json.safetensors", b), "not valid JSON");
  }
  EXPECT_ERROR(stError("array.safetensors", safetensors(nlohmann::json::array({1, 2}), 0)),
               "not a JSON object");
  EXPECT_ERROR(stError("range.safetensors", safetensors({{"a", stEntry("F32", {2, 2}, 0, 16)}}, 8)),
               "lie outside the 8-byte data section");
  EXPECT_ERROR(stError("order.safetensors", safetensors({{"a", stEntry("F32", {0}, 16, 8)}}, 16)),
               "lie outside");
  EXPECT_ERROR(stError("size.safetensors", safetensors({{"a", stEntry("F32", {4, 4}, 0, 60)}}, 64)),
               "spans 60 bytes but its shape and dtype need 64");
  EXPECT_ERROR(
      stError(
          "overlap.safetensors",
          safetensors({{"a", stEntry("F32", {4}, 0, 16)}, {"b", stEntry("F32", {4}, 8, 24)}}, 24)),
      "overlaps");
  EXPECT_ERROR(stError("dtype.safetensors", safetensors({{"a", stEntry("I64", {2}, 0, 16)}}, 16)),
               "unsupported dtype I64");
  EXPECT_ERROR(stError("negdim.safetensors", safetensors({{"a", stEntry("F32", {-2}, 0, 0)}}, 0)),
               "not a non-negative integer");
  EXPECT_ERROR(
      stError(
          "bigshape.safetensors",
          safetensors({{"a", stEntry("F32", {int64_t(1) << 40, int64_t(1) << 40}, 0, 16)}}, 16)),
      "overflows");
  EXPECT_ERROR(
      stError("nooffsets.safetensors", safetensors({{"a", {{"dtype", "F32"}, {"shape", {2}}}}}, 8)),
      "lacks dtype, shape or data_offsets");
  EXPECT_ERROR(stError("badentry.safetensors", safetensors({{"a", 5}}, 0)), "is not an object");
}

LL_TEST(safetensorsHeaderOverLimit) {
  // A 100 MB+ header that does fit the (sparse) file is still refused before parsing.
  const fs::path p = dir() / "hugeheader.safetensors";
  std::vector<uint8_t> b;
  GgufBuilder::put<uint64_t>(b, 100'000'001);
  GgufBuilder::writeBytes(p, b);
  fs::resize_file(p, 8 + 100'000'001);
  std::string m;
  try {
    ll::rt::SafetensorsFile::open(p);
  } catch (const FormatError& e) {
    m = e.what();
  }
  fs::remove(p);
  QVERIFY2(m.find("hugeheader.safetensors") != std::string::npos &&
               m.find("exceeds the 100000000-byte limit") != std::string::npos,
           m);
}

LL_TEST(safetensorsTruncatedAnywhere) {
  nlohmann::json h = {{"a", stEntry("F32", {2, 2}, 0, 16)}, {"b", stEntry("F16", {4}, 16, 24)}};
  const auto full = safetensors(h, 24);
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + long(n));
    const std::string m = stError("trunc.safetensors", cut);
    QVERIFY2(!m.empty() && m.find("MESSAGE DOES NOT NAME") == std::string::npos,
             "prefix of " + std::to_string(n) + " bytes: '" + m + "'");
  }
}

LL_TEST(unreadablePaths) {
  std::string m;
  try {
    ll::rt::GgufFile::open(dir());
  } catch (const FormatError& e) {
    m = e.what();
  }
  QVERIFY2(m.find("not a regular file") != std::string::npos, m);
  try {
    ll::rt::SafetensorsFile::open(dir() / "absent.safetensors");
  } catch (const FormatError& e) {
    m = e.what();
  }
  QVERIFY2(m.find("absent.safetensors: cannot open") != std::string::npos, m);
}

LL_TEST_MAIN("tst_bad_input")
