// GGUF v3 encoding: header, metadata, tensor infos, 32-byte aligned tensor data.
#include "runtime/demo/gguf_writer.h"

#include <cstring>
#include <fstream>
#include <stdexcept>

namespace ll::rt::demo {

namespace {
constexpr uint64_t kAlign = 32;
enum : uint32_t { kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9 };

template <class T>
void put(std::vector<uint8_t>& b, T v) {
  const size_t o = b.size();
  b.resize(o + sizeof(T));
  std::memcpy(b.data() + o, &v, sizeof(T));
}
void putStr(std::vector<uint8_t>& b, const std::string& s) {
  put<uint64_t>(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}
uint64_t alignUp(uint64_t v) {
  return (v + kAlign - 1) / kAlign * kAlign;
}
}  // namespace

void GgufWriter::addU32(const std::string& k, uint32_t v) {
  Kv kv{k, {}};
  put<uint32_t>(kv.encoded, kU32);
  put(kv.encoded, v);
  m_kv.push_back(std::move(kv));
}
void GgufWriter::addF32(const std::string& k, float v) {
  Kv kv{k, {}};
  put<uint32_t>(kv.encoded, kF32);
  put(kv.encoded, v);
  m_kv.push_back(std::move(kv));
}
void GgufWriter::addBool(const std::string& k, bool v) {
  Kv kv{k, {}};
  put<uint32_t>(kv.encoded, kBool);
  put<uint8_t>(kv.encoded, v ? 1 : 0);
  m_kv.push_back(std::move(kv));
}
void GgufWriter::addString(const std::string& k, const std::string& v) {
  Kv kv{k, {}};
  put<uint32_t>(kv.encoded, kString);
  putStr(kv.encoded, v);
  m_kv.push_back(std::move(kv));
}
void GgufWriter::addStringArray(const std::string& k, const std::vector<std::string>& v) {
  Kv kv{k, {}};
  put<uint32_t>(kv.encoded, kArray);
  put<uint32_t>(kv.encoded, kString);
  put<uint64_t>(kv.encoded, v.size());
  for (const auto& s : v) putStr(kv.encoded, s);
  m_kv.push_back(std::move(kv));
}
void GgufWriter::addF32Array(const std::string& k, const std::vector<float>& v) {
  Kv kv{k, {}};
  put<uint32_t>(kv.encoded, kArray);
  put<uint32_t>(kv.encoded, kF32);
  put<uint64_t>(kv.encoded, v.size());
  for (float x : v) put(kv.encoded, x);
  m_kv.push_back(std::move(kv));
}
void GgufWriter::addI32Array(const std::string& k, const std::vector<int32_t>& v) {
  Kv kv{k, {}};
  put<uint32_t>(kv.encoded, kArray);
  put<uint32_t>(kv.encoded, kI32);
  put<uint64_t>(kv.encoded, v.size());
  for (int32_t x : v) put(kv.encoded, x);
  m_kv.push_back(std::move(kv));
}

void GgufWriter::addTensorF32(const std::string& name, std::vector<int64_t> ne,
                              std::vector<float> data) {
  int64_t n = 1;
  for (int64_t e : ne) n *= e;
  if (n != static_cast<int64_t>(data.size()))
    throw std::logic_error("GgufWriter: tensor " + name + " has the wrong number of values");
  m_tensors.push_back({name, std::move(ne), std::move(data)});
}

void GgufWriter::write(const std::filesystem::path& path) const {
  std::vector<uint8_t> head;
  head.insert(head.end(), {'G', 'G', 'U', 'F'});
  put<uint32_t>(head, 3);
  put<uint64_t>(head, m_tensors.size());
  put<uint64_t>(head, m_kv.size());
  for (const auto& kv : m_kv) {
    putStr(head, kv.key);
    head.insert(head.end(), kv.encoded.begin(), kv.encoded.end());
  }
  uint64_t offset = 0;
  for (const auto& t : m_tensors) {
    putStr(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
    for (int64_t e : t.ne) put<uint64_t>(head, static_cast<uint64_t>(e));
    put<uint32_t>(head, 0);  // F32
    put<uint64_t>(head, offset);
    offset = alignUp(offset + t.data.size() * sizeof(float));
  }
  head.resize(alignUp(head.size()), 0);

  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(tmp.string() + ": cannot open for writing");
    out.write(reinterpret_cast<const char*>(head.data()), std::streamsize(head.size()));
    const std::vector<char> pad(kAlign, 0);
    for (const auto& t : m_tensors) {
      const size_t bytes = t.data.size() * sizeof(float);
      out.write(reinterpret_cast<const char*>(t.data.data()), std::streamsize(bytes));
      out.write(pad.data(), std::streamsize(alignUp(bytes) - bytes));
    }
    out.flush();
    if (!out) throw std::runtime_error(tmp.string() + ": write failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error(path.string() + ": cannot rename the written model into place");
  }
}

}  // namespace ll::rt::demo
