#include "runtime/formats/gguf_writer.h"

#include <cstring>
#include <fstream>
#include <stdexcept>

#include "kernels/quant.h"
#include "runtime/formats/gguf.h"

namespace ll::rt {
namespace {

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

// Encodes a metadata value read from another file (type tag included).
void encodeValue(std::vector<uint8_t>& b, const GgufValue& v, bool withType) {
  using T = GgufValue::Type;
  if (withType) put<uint32_t>(b, static_cast<uint32_t>(v.type));
  switch (v.type) {
    case T::U8:
      put<uint8_t>(b, static_cast<uint8_t>(*v.asInt()));
      break;
    case T::I8:
      put<int8_t>(b, static_cast<int8_t>(*v.asInt()));
      break;
    case T::U16:
      put<uint16_t>(b, static_cast<uint16_t>(*v.asInt()));
      break;
    case T::I16:
      put<int16_t>(b, static_cast<int16_t>(*v.asInt()));
      break;
    case T::U32:
      put<uint32_t>(b, static_cast<uint32_t>(*v.asInt()));
      break;
    case T::I32:
      put<int32_t>(b, static_cast<int32_t>(*v.asInt()));
      break;
    case T::U64:
      put<uint64_t>(b, static_cast<uint64_t>(*v.asInt()));
      break;
    case T::I64:
      put<int64_t>(b, *v.asInt());
      break;
    case T::F32:
      put<float>(b, static_cast<float>(*v.asFloat()));
      break;
    case T::F64:
      put<double>(b, *v.asFloat());
      break;
    case T::Bool:
      put<uint8_t>(b, *v.asInt() ? 1 : 0);
      break;
    case T::String:
      putStr(b, *v.asString());
      break;
    case T::Array: {
      const auto* a = v.asArray();
      put<uint32_t>(b, static_cast<uint32_t>(v.arrayType));
      put<uint64_t>(b, a ? a->size() : 0);
      if (a)
        for (const auto& e : *a) encodeValue(b, e, false);
      break;
    }
  }
}

}  // namespace

void GgufWriter::addU32(const std::string& k, uint32_t v) {
  Kv kv{k, {}};
  put<uint32_t>(kv.encoded, 4);
  put(kv.encoded, v);
  m_kv.push_back(std::move(kv));
}
void GgufWriter::addI32(const std::string& k, int32_t v) {
  Kv kv{k, {}};
  put<uint32_t>(kv.encoded, 5);
  put(kv.encoded, v);
  m_kv.push_back(std::move(kv));
}
void GgufWriter::addF32(const std::string& k, float v) {
  Kv kv{k, {}};
  put<uint32_t>(kv.encoded, 6);
  put(kv.encoded, v);
  m_kv.push_back(std::move(kv));
}
void GgufWriter::addBool(const std::string& k, bool v) {
  Kv kv{k, {}};
  put<uint32_t>(kv.encoded, 7);
  put<uint8_t>(kv.encoded, v ? 1 : 0);
  m_kv.push_back(std::move(kv));
}
void GgufWriter::addString(const std::string& k, const std::string& v) {
  Kv kv{k, {}};
  put<uint32_t>(kv.encoded, 8);
  putStr(kv.encoded, v);
  m_kv.push_back(std::move(kv));
}
void GgufWriter::addStringArray(const std::string& k, const std::vector<std::string>& v) {
  Kv kv{k, {}};
  put<uint32_t>(kv.encoded, 9);
  put<uint32_t>(kv.encoded, 8);
  put<uint64_t>(kv.encoded, v.size());
  for (const auto& s : v) putStr(kv.encoded, s);
  m_kv.push_back(std::move(kv));
}
void GgufWriter::addF32Array(const std::string& k, const std::vector<float>& v) {
  Kv kv{k, {}};
  put<uint32_t>(kv.encoded, 9);
  put<uint32_t>(kv.encoded, 6);
  put<uint64_t>(kv.encoded, v.size());
  for (float x : v) put(kv.encoded, x);
  m_kv.push_back(std::move(kv));
}
void GgufWriter::addI32Array(const std::string& k, const std::vector<int32_t>& v) {
  Kv kv{k, {}};
  put<uint32_t>(kv.encoded, 9);
  put<uint32_t>(kv.encoded, 5);
  put<uint64_t>(kv.encoded, v.size());
  for (int32_t x : v) put(kv.encoded, x);
  m_kv.push_back(std::move(kv));
}

void GgufWriter::copyMetadata(const std::filesystem::path& path, const std::string& prefix) {
  auto f = GgufFile::open(path);
  for (const auto& [key, value] : f->metadata()) {
    if (key.rfind(prefix, 0) != 0) continue;
    Kv kv{key, {}};
    encodeValue(kv.encoded, value, true);
    m_kv.push_back(std::move(kv));
  }
}

void GgufWriter::addTensor(const std::string& name, uint32_t type, std::vector<int64_t> ne,
                           std::function<std::vector<uint8_t>()> bytes) {
  m_tensors.push_back({name, type, std::move(ne), std::move(bytes)});
}

void GgufWriter::addTensorF32(const std::string& name, std::vector<int64_t> ne,
                              std::vector<float> data) {
  int64_t n = 1;
  for (int64_t e : ne) n *= e;
  if (n != static_cast<int64_t>(data.size()))
    throw std::logic_error("GgufWriter: tensor " + name + " has the wrong number of values");
  addTensor(name, 0, std::move(ne), [data = std::move(data)] {
    std::vector<uint8_t> b(data.size() * sizeof(float));
    std::memcpy(b.data(), data.data(), b.size());
    return b;
  });
}

void GgufWriter::write(const std::filesystem::path& path) const {
  constexpr uint64_t kAlign = 32;
  auto alignUp = [](uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; };
  std::vector<uint8_t> head;
  head.insert(head.end(), {'G', 'G', 'U', 'F'});
  put<uint32_t>(head, 3);
  put<uint64_t>(head, m_tensors.size());
  put<uint64_t>(head, m_kv.size());
  for (const auto& kv : m_kv) {
    putStr(head, kv.key);
    head.insert(head.end(), kv.encoded.begin(), kv.encoded.end());
  }
  uint64_t off = 0;
  std::vector<uint64_t> sizes;
  for (const auto& t : m_tensors) {
    putStr(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
    int64_t n = 1;
    for (int64_t e : t.ne) {
      put<uint64_t>(head, static_cast<uint64_t>(e));
      n *= e;
    }
    put<uint32_t>(head, t.type);
    put<uint64_t>(head, off);
    const uint64_t sz = kern::rowBytes(static_cast<kern::QType>(t.type), n);
    sizes.push_back(sz);
    off += alignUp(sz);
  }
  head.resize(alignUp(head.size()), 0);

  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error(tmp.string() + ": cannot open for writing");
    f.write(reinterpret_cast<const char*>(head.data()), static_cast<std::streamsize>(head.size()));
    for (size_t i = 0; i < m_tensors.size(); ++i) {
      std::vector<uint8_t> b = m_tensors[i].bytes();
      if (b.size() != sizes[i])
        throw std::logic_error("GgufWriter: tensor " + m_tensors[i].name + ": wrong byte count");
      b.resize(alignUp(b.size()), 0);
      f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    }
    f.flush();
    if (!f) throw std::runtime_error(tmp.string() + ": write failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error(path.string() + ": cannot rename the written file into place");
  }
}

}  // namespace ll::rt
