// DocFields (document_fields.h): the checks of an untrusted analysis document.
#include "runtime/analysis/document_fields.h"

#include <cmath>
#include <stdexcept>

namespace ll::rt::ana {

DocFields::DocFields(std::string what, const nlohmann::json& j) : m_what(std::move(what)), m_j(j) {
  if (!j.is_object()) throw std::invalid_argument(m_what + ": not a JSON object");
}

void DocFields::bad(const char* key, const std::string& what) const {
  throw std::invalid_argument(m_what + ": field '" + key + "' " + what);
}

const nlohmann::json& DocFields::at(const char* key) const {
  auto it = m_j.find(key);
  if (it == m_j.end()) bad(key, "is missing");
  return *it;
}

int64_t DocFields::integer(const char* key, int64_t lo, int64_t hi) const {
  const auto& v = at(key);
  if (!v.is_number_integer()) bad(key, "must be an integer");
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX))
    bad(key, "is out of range");
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi)
    bad(key, std::to_string(x) + " is out of range (" + std::to_string(lo) + ".." +
                 std::to_string(hi) + ")");
  return x;
}

double DocFields::number(const char* key) const {
  const auto& v = at(key);
  if (!v.is_number()) bad(key, "must be a number");
  return v.get<double>();
}

std::string DocFields::text(const char* key) const {
  const auto& v = at(key);
  if (!v.is_string()) bad(key, "must be a string");
  return v.get<std::string>();
}

std::vector<double> DocFields::numbers(const char* key, int64_t n, size_t maxCount) const {
  const auto& v = at(key);
  if (!v.is_array()) bad(key, "must be an array");
  if (n >= 0 && v.size() != size_t(n))
    bad(key, "has " + std::to_string(v.size()) + " values, expected " + std::to_string(n));
  if (v.size() > maxCount) bad(key, "has " + std::to_string(v.size()) + " values, too many");
  std::vector<double> out;
  out.reserve(v.size());
  for (const auto& x : v) {
    if (!x.is_number()) bad(key, "must hold numbers only");
    out.push_back(x.get<double>());
  }
  return out;
}

DocFields DocFields::object(const char* key) const {
  const auto& v = at(key);
  if (!v.is_object()) bad(key, "must be an object");
  return DocFields(m_what + " " + key, v);
}

const OutputArray& outputArrayOf(const std::vector<OutputArray>& arrays, const std::string& name,
                                 const std::vector<int64_t>& shape, const std::string& what) {
  for (const auto& a : arrays) {
    if (a.name != name) continue;
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    if (a.shape != shape || int64_t(a.data.size()) != n)
      throw std::invalid_argument(what + ": the array '" + name + "' has the wrong shape");
    return a;
  }
  throw std::invalid_argument(what + ": the array '" + name + "' is missing");
}

}  // namespace ll::rt::ana
