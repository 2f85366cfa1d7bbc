#include "runtime/api/npy_io.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace ll::rt {
namespace {

void writeRaw(const std::filesystem::path& path, const char* descr, const void* data,
              size_t elemBytes, const std::vector<int64_t>& shape) {
  std::ostringstream hdr;
  hdr << "{'descr': '" << descr << "', 'fortran_order': False, 'shape': (";
  size_t count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    hdr << shape[i] << (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
    count *= static_cast<size_t>(shape[i]);
  }
  hdr << "), }";
  std::string h = hdr.str();
  size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h.push_back('\n');
  std::ofstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot write " + path.string());
  const char magic[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
  f.write(magic, 8);
  uint16_t len = static_cast<uint16_t>(h.size());
  f.put(static_cast<char>(len & 0xff));
  f.put(static_cast<char>(len >> 8));
  f.write(h.data(), static_cast<std::streamsize>(h.size()));
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(count * elemBytes));
  if (!f) throw std::runtime_error("write failed: " + path.string());
}

}  // namespace

void writeNpy(const std::filesystem::path& path, const float* data,
              const std::vector<int64_t>& shape) {
  writeRaw(path, "<f4", data, 4, shape);
}
void writeNpy(const std::filesystem::path& path, const int32_t* data,
              const std::vector<int64_t>& shape) {
  writeRaw(path, "<i4", data, 4, shape);
}

NpyF32 readNpyF32(const std::filesystem::path& path) {
  auto bad = [&](const std::string& why) { return std::runtime_error(path.string() + ": " + why); };
  std::ifstream f(path, std::ios::binary);
  if (!f) throw bad("cannot open");
  f.seekg(0, std::ios::end);
  const auto fileSize = static_cast<uint64_t>(f.tellg());
  f.seekg(0);
  char pre[10];
  if (fileSize < 10 || !f.read(pre, 10)) throw bad("not a .npy file (too short)");
  if (std::memcmp(pre, "\x93NUMPY", 6) != 0) throw bad("not a .npy file (bad magic)");
  uint64_t hlen = 0, off = 10;
  if (pre[6] == 1) {
    hlen =
        static_cast<uint8_t>(pre[8]) | (static_cast<uint16_t>(static_cast<uint8_t>(pre[9])) << 8);
  } else if (pre[6] == 2 || pre[6] == 3) {
    char b[2];
    if (!f.read(b, 2)) throw bad("truncated header");
    hlen = static_cast<uint8_t>(pre[8]) |
           (static_cast<uint32_t>(static_cast<uint8_t>(pre[9])) << 8) |
           (static_cast<uint32_t>(static_cast<uint8_t>(b[0])) << 16) |
           (static_cast<uint32_t>(static_cast<uint8_t>(b[1])) << 24);
    off = 12;
  } else {
    throw bad("unsupported .npy version");
  }
  if (hlen > 65536 || off + hlen > fileSize) throw bad("header length out of range");
  std::string h(hlen, '\0');
  if (!f.read(h.data(), static_cast<std::streamsize>(hlen))) throw bad("truncated header");
  auto descrPos = h.find("'descr'");
  if (descrPos == std::string::npos) throw bad("header has no descr");
  auto q1 = h.find('\'', descrPos + 7);
  auto q2 = q1 == std::string::npos ? q1 : h.find('\'', q1 + 1);
  if (q2 == std::string::npos) throw bad("malformed descr");
  std::string descr = h.substr(q1 + 1, q2 - q1 - 1);
  size_t elem = 0;
  if (descr == "<f4")
    elem = 4;
  else if (descr == "<f8")
    elem = 8;
  else
    throw bad("dtype " + descr + " is not float32/float64");
  if (h.find("'fortran_order': True") != std::string::npos)
    throw bad("fortran order not supported");
  auto sp = h.find("'shape'");
  auto lp = sp == std::string::npos ? sp : h.find('(', sp);
  auto rp = lp == std::string::npos ? lp : h.find(')', lp);
  if (rp == std::string::npos) throw bad("malformed shape");
  NpyF32 out;
  uint64_t count = 1;
  std::string dims = h.substr(lp + 1, rp - lp - 1);
  size_t i = 0;
  while (i < dims.size()) {
    while (i < dims.size() && (dims[i] == ' ' || dims[i] == ',')) ++i;
    if (i >= dims.size()) break;
    if (dims[i] < '0' || dims[i] > '9') throw bad("malformed shape");
    uint64_t v = 0;
    while (i < dims.size() && dims[i] >= '0' && dims[i] <= '9') {
      v = v * 10 + static_cast<uint64_t>(dims[i] - '0');
      if (v > (1ull << 40)) throw bad("dimension too large");
      ++i;
    }
    out.shape.push_back(static_cast<int64_t>(v));
    // Checked before multiplying: count * v can wrap past 2^64 (to 0 for (2^34, 2^30)).
    if (v != 0 && count > (1ull << 34) / v) throw bad("array too large");
    count *= v;
  }
  uint64_t dataOff = off + hlen;
  if (dataOff + count * elem > fileSize)
    throw bad("data truncated (shape says more than the file holds)");
  out.data.resize(count);
  if (elem == 4) {
    f.read(reinterpret_cast<char*>(out.data.data()), static_cast<std::streamsize>(count * 4));
  } else {
    std::vector<double> d(count);
    f.read(reinterpret_cast<char*>(d.data()), static_cast<std::streamsize>(count * 8));
    for (size_t j = 0; j < count; ++j) out.data[j] = static_cast<float>(d[j]);
  }
  if (!f) throw bad("read failed");
  return out;
}

}  // namespace ll::rt
