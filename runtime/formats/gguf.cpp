// GGUF v2/v3 parser. Every count is checked against the bytes left in the file before anything is
// allocated, so a hostile header cannot make us reserve more memory than the file could describe.
#include "runtime/formats/gguf.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace ll::rt {

namespace {

constexpr int kMaxArrayDepth = 8;  // nesting deeper than this is never legitimate
constexpr int kMaxDims = 4;        // GGML_MAX_DIMS
// Each metadata array element costs a GgufValue (~64 bytes) in memory while it may take one byte
// in the file; a total cap keeps a hostile file from turning that into gigabytes. Real files hold
// well under a million elements (largest vocabularies: ~260k tokens + scores + types + merges).
constexpr uint64_t kMaxMetadataElements = uint64_t(1) << 24;

using VT = GgufValue::Type;

const char* typeName(VT t) {
  switch (t) {
    case VT::U8:
      return "u8";
    case VT::I8:
      return "i8";
    case VT::U16:
      return "u16";
    case VT::I16:
      return "i16";
    case VT::U32:
      return "u32";
    case VT::I32:
      return "i32";
    case VT::F32:
      return "f32";
    case VT::Bool:
      return "bool";
    case VT::String:
      return "string";
    case VT::Array:
      return "array";
    case VT::U64:
      return "u64";
    case VT::I64:
      return "i64";
    case VT::F64:
      return "f64";
  }
  return "?";
}

// Smallest number of bytes one value of this type occupies in the file.
size_t minValueBytes(VT t) {
  switch (t) {
    case VT::U8:
    case VT::I8:
    case VT::Bool:
      return 1;
    case VT::U16:
    case VT::I16:
      return 2;
    case VT::U32:
    case VT::I32:
    case VT::F32:
      return 4;
    case VT::U64:
    case VT::I64:
    case VT::F64:
      return 8;
    case VT::String:
      return 8;  // length prefix
    case VT::Array:
      return 12;  // element type + count
  }
  return 1;
}

class Reader {
 public:
  Reader(const std::filesystem::path& path, const uint8_t* data, size_t size)
      : m_path(path), m_data(data), m_size(size) {}

  [[noreturn]] void fail(const std::string& problem) const { throw FormatError(m_path, problem); }

  size_t pos() const { return m_pos; }
  size_t remaining() const { return m_size - m_pos; }

  void need(size_t n, const char* what) const {
    if (n > remaining())
      fail(std::string("truncated: ") + what + " at offset " + std::to_string(m_pos) + " needs " +
           std::to_string(n) + " bytes, " + std::to_string(remaining()) + " left");
  }

  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, m_data + m_pos, sizeof(T));
    m_pos += sizeof(T);
    return v;
  }

  std::string readString(const char* what) {
    uint64_t len = read<uint64_t>(what);
    if (len > remaining())
      fail(std::string(what) + " at offset " + std::to_string(m_pos - 8) + " claims length " +
           std::to_string(len) + " but only " + std::to_string(remaining()) + " bytes remain");
    std::string s(reinterpret_cast<const char*>(m_data + m_pos), static_cast<size_t>(len));
    m_pos += static_cast<size_t>(len);
    return s;
  }

  VT readType(const std::string& key) {
    uint32_t t = read<uint32_t>("value type");
    if (t > static_cast<uint32_t>(VT::F64))
      fail("metadata key '" + key + "' has unknown value type " + std::to_string(t));
    return static_cast<VT>(t);
  }

  GgufValue readValue(VT type, const std::string& key, int depth) {
    GgufValue v;
    v.type = type;
    switch (type) {
      case VT::U8:
        v.v = uint64_t(read<uint8_t>("u8 value"));
        break;
      case VT::I8:
        v.v = int64_t(read<int8_t>("i8 value"));
        break;
      case VT::U16:
        v.v = uint64_t(read<uint16_t>("u16 value"));
        break;
      case VT::I16:
        v.v = int64_t(read<int16_t>("i16 value"));
        break;
      case VT::U32:
        v.v = uint64_t(read<uint32_t>("u32 value"));
        break;
      case VT::I32:
        v.v = int64_t(read<int32_t>("i32 value"));
        break;
      case VT::U64:
        v.v = read<uint64_t>("u64 value");
        break;
      case VT::I64:
        v.v = read<int64_t>("i64 value");
        break;
      case VT::F32:
        v.v = double(read<float>("f32 value"));
        break;
      case VT::F64:
        v.v = read<double>("f64 value");
        break;
      case VT::Bool: {
        uint8_t b = read<uint8_t>("bool value");
        if (b > 1) fail("metadata key '" + key + "' has bool value " + std::to_string(b));
        v.v = b != 0;
        break;
      }
      case VT::String:
        v.v = readString("string value");
        break;
      case VT::Array: {
        if (depth >= kMaxArrayDepth)
          fail("metadata key '" + key + "' nests arrays deeper than " +
               std::to_string(kMaxArrayDepth));
        VT et = readType(key);
        uint64_t n = read<uint64_t>("array length");
        size_t minBytes = minValueBytes(et);
        if (n > remaining() / minBytes)
          fail("metadata key '" + key + "': array of " + std::to_string(n) + " " + typeName(et) +
               " cannot fit in the " + std::to_string(remaining()) + " bytes left");
        m_elements += n;
        if (m_elements > kMaxMetadataElements)
          fail("metadata arrays hold more than " + std::to_string(kMaxMetadataElements) +
               " elements in all (at key '" + key + "')");
        auto arr = std::make_shared<GgufArray>();
        arr->reserve(static_cast<size_t>(n));
        for (uint64_t i = 0; i < n; ++i) arr->push_back(readValue(et, key, depth + 1));
        v.arrayType = et;
        v.v = std::move(arr);
        break;
      }
    }
    return v;
  }

 private:
  const std::filesystem::path& m_path;
  const uint8_t* m_data;
  size_t m_size;
  size_t m_pos = 0;
  uint64_t m_elements = 0;
};

}  // namespace

std::optional<int64_t> GgufValue::asInt() const {
  switch (type) {
    case Type::U8:
    case Type::U16:
    case Type::U32:
    case Type::U64: {
      uint64_t u = std::get<uint64_t>(v);
      if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
      return static_cast<int64_t>(u);
    }
    case Type::I8:
    case Type::I16:
    case Type::I32:
    case Type::I64:
      return std::get<int64_t>(v);
    case Type::Bool:
      return std::get<bool>(v) ? 1 : 0;
    default:
      return std::nullopt;
  }
}

std::optional<double> GgufValue::asFloat() const {
  switch (type) {
    case Type::F32:
    case Type::F64:
      return std::get<double>(v);
    case Type::U8:
    case Type::U16:
    case Type::U32:
    case Type::U64:
      return static_cast<double>(std::get<uint64_t>(v));
    case Type::I8:
    case Type::I16:
    case Type::I32:
    case Type::I64:
      return static_cast<double>(std::get<int64_t>(v));
    default:
      return std::nullopt;
  }
}

const std::string* GgufValue::asString() const {
  return type == Type::String ? &std::get<std::string>(v) : nullptr;
}

const GgufArray* GgufValue::asArray() const {
  return type == Type::Array ? std::get<std::shared_ptr<GgufArray>>(v).get() : nullptr;
}

int64_t GgufTensorInfo::nElements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

std::unique_ptr<GgufFile> GgufFile::open(const std::filesystem::path& path) {
  auto map = MappedFile::open(path);
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->m_path = path;
  f->m_map = map;
  Reader r(f->m_path, map->data(), map->size());

  if (map->size() < 4)
    r.fail("too small to be a GGUF file (" + std::to_string(map->size()) + " bytes)");
  uint32_t magic = r.read<uint32_t>("magic");
  if (std::memcmp(map->data(), "GGUF", 4) != 0) r.fail("not a GGUF file (bad magic)");
  (void)magic;
  uint32_t version = r.read<uint32_t>("version");
  if (version != 2 && version != 3) {
    std::string extra = (version & 0xffff) == 0 && version != 0 ? " (big-endian file?)" : "";
    r.fail("unsupported GGUF version " + std::to_string(version) + extra + "; supported: 2, 3");
  }
  f->m_version = version;
  uint64_t nTensors = r.read<uint64_t>("tensor count");
  uint64_t nKv = r.read<uint64_t>("metadata count");
  // A kv pair is at least key length (8) + type (4) + 1 byte; a tensor info at least
  // name length (8) + n_dims (4) + one dim (8) + type (4) + offset (8).
  if (nKv > r.remaining() / 13)
    r.fail("metadata count " + std::to_string(nKv) + " cannot fit in a file of " +
           std::to_string(map->size()) + " bytes");
  if (nTensors > r.remaining() / 32)
    r.fail("tensor count " + std::to_string(nTensors) + " cannot fit in a file of " +
           std::to_string(map->size()) + " bytes");

  for (uint64_t i = 0; i < nKv; ++i) {
    std::string key = r.readString("metadata key");
    VT t = r.readType(key);
    GgufValue v = r.readValue(t, key, 0);
    if (!f->m_meta.emplace(key, std::move(v)).second)
      r.fail("duplicate metadata key '" + key + "'");
  }

  if (const GgufValue* a = f->find("general.alignment")) {
    auto al = a->asInt();
    if (!al || *al <= 0 || (*al & (*al - 1)) != 0 || *al > (1 << 30))
      r.fail("general.alignment must be a power of two, got " +
             (al ? std::to_string(*al) : std::string("a ") + typeName(a->type)));
    f->m_alignment = static_cast<size_t>(*al);
  }

  f->m_tensors.reserve(static_cast<size_t>(nTensors));
  for (uint64_t i = 0; i < nTensors; ++i) {
    GgufTensorInfo t;
    t.name = r.readString("tensor name");
    uint32_t nDims = r.read<uint32_t>("tensor n_dims");
    if (nDims < 1 || nDims > kMaxDims)
      r.fail("tensor '" + t.name + "' has " + std::to_string(nDims) + " dimensions (1.." +
             std::to_string(kMaxDims) + " allowed)");
    int64_t nEl = 1;
    for (uint32_t d = 0; d < nDims; ++d) {
      int64_t ne = r.read<int64_t>("tensor dimension");
      if (ne <= 0) r.fail("tensor '" + t.name + "' has dimension " + std::to_string(ne));
      if (__builtin_mul_overflow(nEl, ne, &nEl))
        r.fail("tensor '" + t.name + "': element count overflows");
      t.ne.push_back(ne);
    }
    uint32_t rawType = r.read<uint32_t>("tensor type");
    auto info = kern::qtypeInfo(rawType);
    if (!info) r.fail("tensor '" + t.name + "' has unsupported type id " + std::to_string(rawType));
    t.type = info->type;
    t.offset = r.read<uint64_t>("tensor offset");
    if (t.ne[0] % info->blockSize != 0)
      r.fail("tensor '" + t.name + "': row length " + std::to_string(t.ne[0]) +
             " is not a multiple of the " + std::string(info->name) + " block size " +
             std::to_string(info->blockSize));
    uint64_t row = static_cast<uint64_t>(t.ne[0] / info->blockSize) * info->typeSize;
    uint64_t rows = static_cast<uint64_t>(nEl / t.ne[0]);
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(row, rows, &nbytes) || nbytes > map->size())
      r.fail("tensor '" + t.name + "' needs more bytes than the file has");
    t.nbytes = static_cast<size_t>(nbytes);
    if (t.offset % f->m_alignment != 0)
      r.fail("tensor '" + t.name + "' offset " + std::to_string(t.offset) + " is not aligned to " +
             std::to_string(f->m_alignment));
    if (!f->m_index.emplace(t.name, f->m_tensors.size()).second)
      r.fail("duplicate tensor name '" + t.name + "'");
    f->m_tensors.push_back(std::move(t));
  }

  if (!f->m_tensors.empty()) {
    uint64_t dataStart = (r.pos() + f->m_alignment - 1) / f->m_alignment * f->m_alignment;
    if (dataStart > map->size()) r.fail("tensor data section starts past the end of the file");
    uint64_t dataSize = map->size() - dataStart;
    std::vector<size_t> order(f->m_tensors.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return f->m_tensors[a].offset < f->m_tensors[b].offset; });
    uint64_t prevEnd = 0;
    const std::string* prevName = nullptr;
    for (size_t idx : order) {
      GgufTensorInfo& t = f->m_tensors[idx];
      if (t.offset > dataSize || t.nbytes > dataSize - t.offset)
        r.fail("tensor '" + t.name + "' data (offset " + std::to_string(t.offset) + ", " +
               std::to_string(t.nbytes) + " bytes) runs past the end of the file");
      if (prevName && t.offset < prevEnd)
        r.fail("tensor '" + t.name + "' overlaps tensor '" + *prevName + "'");
      prevEnd = t.offset + t.nbytes;
      prevName = &t.name;
      t.data = map->data() + dataStart + t.offset;
    }
  }
  return f;
}

uint64_t GgufFile::fileSize() const {
  return m_map ? m_map->size() : 0;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = m_meta.find(key);
  return it == m_meta.end() ? nullptr : &it->second;
}

std::optional<int64_t> GgufFile::getInt(const std::string& key) const {
  const GgufValue* v = find(key);
  return v ? v->asInt() : std::nullopt;
}

std::optional<double> GgufFile::getFloat(const std::string& key) const {
  const GgufValue* v = find(key);
  return v ? v->asFloat() : std::nullopt;
}

std::optional<std::string> GgufFile::getString(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v || !v->asString()) return std::nullopt;
  return *v->asString();
}

namespace {
const GgufArray* arrayOf(const GgufFile& f, const std::string& key, const char* want) {
  const GgufValue* v = f.find(key);
  if (!v) return nullptr;
  const GgufArray* a = v->asArray();
  if (!a)
    throw FormatError(f.path(), "metadata key '" + key + "' is a " + typeName(v->type) +
                                    ", expected an array of " + want);
  return a;
}
}  // namespace

std::vector<std::string> GgufFile::getStringArray(const std::string& key) const {
  std::vector<std::string> out;
  const GgufArray* a = arrayOf(*this, key, "strings");
  if (!a) return out;
  out.reserve(a->size());
  for (const GgufValue& e : *a) {
    const std::string* s = e.asString();
    if (!s) throw FormatError(m_path, "metadata key '" + key + "' is not an array of strings");
    out.push_back(*s);
  }
  return out;
}

std::vector<float> GgufFile::getFloatArray(const std::string& key) const {
  std::vector<float> out;
  const GgufArray* a = arrayOf(*this, key, "numbers");
  if (!a) return out;
  out.reserve(a->size());
  for (const GgufValue& e : *a) {
    auto x = e.asFloat();
    if (!x) throw FormatError(m_path, "metadata key '" + key + "' is not an array of numbers");
    out.push_back(static_cast<float>(*x));
  }
  return out;
}

std::vector<int64_t> GgufFile::getIntArray(const std::string& key) const {
  std::vector<int64_t> out;
  const GgufArray* a = arrayOf(*this, key, "integers");
  if (!a) return out;
  out.reserve(a->size());
  for (const GgufValue& e : *a) {
    auto x = e.asInt();
    if (!x) throw FormatError(m_path, "metadata key '" + key + "' is not an array of integers");
    out.push_back(*x);
  }
  return out;
}

const GgufTensorInfo* GgufFile::tensor(const std::string& name) const {
  auto it = m_index.find(name);
  return it == m_index.end() ? nullptr : &m_tensors[it->second];
}

}  // namespace ll::rt
