#include "npy.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace lltest {

int64_t NpyArray::size() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string readText(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path.string() + ": cannot open");
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

static std::string field(const std::string& header, const std::string& key) {
  auto p = header.find("'" + key + "'");
  if (p == std::string::npos) return {};
  p = header.find(':', p);
  if (p == std::string::npos) return {};
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  if (header[p] == '\'') {
    auto e = header.find('\'', p + 1);
    return header.substr(p + 1, e - p - 1);
  }
  if (header[p] == '(') {
    auto e = header.find(')', p);
    return header.substr(p + 1, e - p - 1);
  }
  auto e = header.find_first_of(",}", p);
  return header.substr(p, e - p);
}

NpyArray readNpy(const std::filesystem::path& path) {
  std::string s = readText(path);
  auto bad = [&](const std::string& why) { return std::runtime_error(path.string() + ": " + why); };
  if (s.size() < 10 || std::memcmp(s.data(), "\x93NUMPY", 6) != 0) throw bad("not a .npy file");
  int major = static_cast<uint8_t>(s[6]);
  size_t hlen, hoff;
  if (major == 1) {
    hlen = static_cast<uint8_t>(s[8]) | (static_cast<uint8_t>(s[9]) << 8);
    hoff = 10;
  } else {
    if (s.size() < 12) throw bad("truncated header");
    uint32_t v;
    std::memcpy(&v, s.data() + 8, 4);
    hlen = v;
    hoff = 12;
  }
  if (hoff + hlen > s.size()) throw bad("truncated header");
  std::string header = s.substr(hoff, hlen);
  NpyArray a;
  a.dtype = field(header, "descr");
  if (field(header, "fortran_order").find("True") != std::string::npos) throw bad("fortran order");
  std::string shape = field(header, "shape");
  std::stringstream ss(shape);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(' ') == std::string::npos) continue;
    a.shape.push_back(std::stoll(item));
  }
  const char* data = s.data() + hoff + hlen;
  size_t avail = s.size() - hoff - hlen;
  int64_t n = a.size();
  auto need = [&](size_t bytes) {
    if (bytes > avail) throw bad("data shorter than the shape says");
  };
  if (a.dtype == "<f4") {
    need(n * 4);
    a.f32.resize(n);
    std::memcpy(a.f32.data(), data, n * 4);
  } else if (a.dtype == "<f8") {
    need(n * 8);
    a.f32.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, data + 8 * i, 8);
      a.f32[i] = static_cast<float>(d);
    }
  } else if (a.dtype == "<i4") {
    need(n * 4);
    a.i32.resize(n);
    std::memcpy(a.i32.data(), data, n * 4);
  } else if (a.dtype == "<i8") {
    need(n * 8);
    a.i32.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      int64_t d;
      std::memcpy(&d, data + 8 * i, 8);
      a.i32[i] = static_cast<int32_t>(d);
    }
  } else {
    throw bad("unsupported dtype " + a.dtype);
  }
  return a;
}

}  // namespace lltest
