// Safetensors parsing: the JSON header is parsed only after its length is checked against the
// file, and every tensor's byte range must lie inside the data section without overlapping.
#include "runtime/formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include <nlohmann/json.hpp>

namespace ll::rt {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeInfo {
  const char* name;
  kern::QType type;
  size_t size;
};
constexpr DtypeInfo kDtypes[] = {
    {"F32", kern::QType::F32, 4}, {"F16", kern::QType::F16, 2}, {"BF16", kern::QType::BF16, 2}};

}  // namespace

int64_t SafetensorsTensor::nElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  auto map = MappedFile::open(path);
  auto fail = [&](const std::string& problem) -> void { throw FormatError(path, problem); };
  if (map->size() < 8)
    fail("too small for a safetensors file (" + std::to_string(map->size()) + " bytes)");
  uint64_t headerLen;
  std::memcpy(&headerLen, map->data(), 8);
  if (headerLen > map->size() - 8)
    fail("header length " + std::to_string(headerLen) + " runs past the end of the file (" +
         std::to_string(map->size()) + " bytes)");
  // The reference implementation refuses headers over 100 MB; parsed JSON takes several times its
  // text in memory, so a larger "header" is an attack, not a model.
  if (headerLen > kMaxHeaderBytes)
    fail("header length " + std::to_string(headerLen) + " exceeds the " +
         std::to_string(kMaxHeaderBytes) + "-byte limit");
  const char* hdr = reinterpret_cast<const char*>(map->data() + 8);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(hdr, hdr + headerLen);
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail("header is not a JSON object");

  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->m_path = path;
  f->m_map = map;
  const uint64_t dataStart = 8 + headerLen;
  const uint64_t dataSize = map->size() - dataStart;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail("__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m)
        if (m.value().is_string()) f->m_meta[m.key()] = m.value().get<std::string>();
      continue;
    }
    if (!v.is_object()) fail("entry '" + name + "' is not an object");
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string() || sh == v.end() || !sh->is_array() || off == v.end() ||
        !off->is_array() || off->size() != 2)
      fail("tensor '" + name + "' lacks dtype, shape or data_offsets");
    SafetensorsTensor t;
    t.name = name;
    t.dtype = dt->get<std::string>();
    const DtypeInfo* info = nullptr;
    for (const auto& d : kDtypes)
      if (t.dtype == d.name) info = &d;
    if (!info)
      fail("tensor '" + name + "' has unsupported dtype " + t.dtype +
           " (supported: F32, F16, BF16)");
    t.type = info->type;
    if (sh->size() > 8)
      fail("tensor '" + name + "' has " + std::to_string(sh->size()) + " dimensions");
    uint64_t nEl = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned())
        fail("tensor '" + name + "' has a dimension that is not a non-negative integer");
      uint64_t n = d.get<uint64_t>();
      if (n > uint64_t(INT64_MAX) || __builtin_mul_overflow(nEl, n, &nEl) ||
          nEl > uint64_t(INT64_MAX))
        fail("tensor '" + name + "': element count overflows");
      t.shape.push_back(int64_t(n));
    }
    if (!(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
      fail("tensor '" + name + "' has data_offsets that are not non-negative integers");
    const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
    uint64_t want = 0;
    if (__builtin_mul_overflow(nEl, uint64_t(info->size), &want))
      fail("tensor '" + name + "': byte size overflows");
    if (begin > end || end > dataSize)
      fail("tensor '" + name + "' data_offsets [" + std::to_string(begin) + ", " +
           std::to_string(end) + ") lie outside the " + std::to_string(dataSize) +
           "-byte data section");
    if (end - begin != want)
      fail("tensor '" + name + "' spans " + std::to_string(end - begin) +
           " bytes but its shape and dtype need " + std::to_string(want));
    t.data = map->data() + dataStart + begin;
    t.nbytes = size_t(want);
    if (!f->m_index.emplace(name, f->m_tensors.size()).second)
      fail("duplicate tensor '" + name + "'");
    f->m_tensors.push_back(std::move(t));
  }

  std::vector<size_t> order(f->m_tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  auto start = [&](size_t i) { return f->m_tensors[i].data; };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return start(a) < start(b); });
  for (size_t k = 1; k < order.size(); ++k) {
    const auto& prev = f->m_tensors[order[k - 1]];
    const auto& cur = f->m_tensors[order[k]];
    if (cur.nbytes > 0 && prev.data + prev.nbytes > cur.data)
      fail("tensor '" + cur.name + "' overlaps tensor '" + prev.name + "'");
  }
  return f;
}

const SafetensorsTensor* SafetensorsFile::tensor(const std::string& name) const {
  auto it = m_index.find(name);
  return it == m_index.end() ? nullptr : &m_tensors[it->second];
}

}  // namespace ll::rt
