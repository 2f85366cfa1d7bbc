// The checked reader of an analysis's result document read back (a server's Analyze reply is
// untrusted input): required fields of the right type, numbers in range, arrays of the exact
// length the model's shape gives; anything else is std::invalid_argument naming the field.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace ll::rt::ana {

class DocumentReader {
 public:
  // what: the document's name in messages ("attribution document").
  DocumentReader(std::string what, const nlohmann::json& j) : m_what(std::move(what)), m_j(j) {
    if (!j.is_object()) throw std::invalid_argument(m_what + ": not a JSON object");
  }

  const nlohmann::json& field(const std::string& key) const {
    const auto it = m_j.find(key);
    if (it == m_j.end()) throw std::invalid_argument(m_what + ": missing field '" + key + "'");
    return *it;
  }
  bool has(const std::string& key) const { return m_j.contains(key); }

  int64_t integer(const std::string& key, int64_t lo, int64_t hi) const {
    return integerAt(key, field(key), lo, hi);
  }
  bool boolean(const std::string& key) const {
    const auto& v = field(key);
    if (!v.is_boolean()) bad(key, "true or false");
    return v.get<bool>();
  }
  std::string string(const std::string& key) const {
    const auto& v = field(key);
    if (!v.is_string()) bad(key, "a string");
    return v.get<std::string>();
  }
  // A double; null stands for NaN or an infinity (JSON has neither: nlohmann writes them as null).
  double number(const std::string& key) const { return numberAt(key, field(key)); }

  // Arrays of exactly n elements.
  std::vector<double> numbers(const std::string& key, size_t n) const {
    std::vector<double> out;
    for (const auto& x : array(key, field(key), n)) out.push_back(numberAt(key, x));
    return out;
  }
  std::vector<float> floats(const std::string& key, size_t n) const {
    std::vector<float> out;
    for (const auto& x : array(key, field(key), n)) out.push_back(floatAt(key, x));
    return out;
  }
  std::vector<int32_t> integers(const std::string& key, size_t n, int64_t lo, int64_t hi) const {
    std::vector<int32_t> out;
    for (const auto& x : array(key, field(key), n))
      out.push_back(static_cast<int32_t>(integerAt(key, x, lo, hi)));
    return out;
  }
  std::vector<unsigned char> booleans(const std::string& key, size_t n) const {
    std::vector<unsigned char> out;
    for (const auto& x : array(key, field(key), n)) {
      if (!x.is_boolean()) bad(key, "an array of true / false");
      out.push_back(x.get<bool>() ? 1 : 0);
    }
    return out;
  }
  // [rows][cols] row-major, each row an array of cols elements; read(key, element) per element.
  template <class T, class Read>
  std::vector<T> matrix(const std::string& key, size_t rows, size_t cols, Read read) const {
    std::vector<T> out;
    out.reserve(rows * cols);
    for (const auto& row : array(key, field(key), rows))
      for (const auto& x : array(key, row, cols)) out.push_back(read(key, x));
    return out;
  }

  // Element readers (for matrix and arrays of objects).
  int64_t integerAt(const std::string& key, const nlohmann::json& v, int64_t lo, int64_t hi) const {
    if (!v.is_number_integer()) bad(key, "an integer");
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
      outOfRange(key, lo, hi);
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) outOfRange(key, lo, hi);
    return x;
  }
  double numberAt(const std::string& key, const nlohmann::json& v) const {
    if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
    if (!v.is_number()) bad(key, "a number");
    return v.get<double>();
  }
  // A float written as a double (exact): a value no float holds is refused.
  float floatAt(const std::string& key, const nlohmann::json& v) const {
    const double x = numberAt(key, v);
    if (std::isfinite(x) && std::fabs(x) > double(std::numeric_limits<float>::max()))
      bad(key, "a float");
    return static_cast<float>(x);
  }
  const nlohmann::json& array(const std::string& key, const nlohmann::json& v, size_t n) const {
    if (!v.is_array()) bad(key, "an array");
    if (v.size() != n)
      throw std::invalid_argument(m_what + ": field '" + key + "' has " + std::to_string(v.size()) +
                                  " elements, expected " + std::to_string(n));
    return v;
  }
  [[noreturn]] void bad(const std::string& key, const char* what) const {
    throw std::invalid_argument(m_what + ": field '" + key + "' must be " + what);
  }

 private:
  [[noreturn]] void outOfRange(const std::string& key, int64_t lo, int64_t hi) const {
    throw std::invalid_argument(m_what + ": field '" + key + "' is out of range (" +
                                std::to_string(lo) + ".." + std::to_string(hi) + ")");
  }
  std::string m_what;
  const nlohmann::json& m_j;
};

}  // namespace ll::rt::ana
