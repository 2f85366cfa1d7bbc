// WeightStore: tensors by GGUF name, plus ownership of converted bytes and of the file mappings
// the tensors point into.
#include "runtime/model/model.h"

#include <stdexcept>

namespace ll::rt {

int64_t TensorData::rows() const {
  int64_t r = 1;
  for (size_t i = 1; i < ne.size(); ++i) r *= ne[i];
  return r;
}

const TensorData* WeightStore::find(const std::string& name) const {
  auto it = m_tensors.find(name);
  return it == m_tensors.end() ? nullptr : &it->second;
}

const TensorData& WeightStore::get(const std::string& name) const {
  const TensorData* t = find(name);
  if (!t) throw std::out_of_range("model has no tensor '" + name + "'");
  return *t;
}

void WeightStore::add(TensorData t) {
  std::string name = t.name;
  m_tensors.insert_or_assign(std::move(name), std::move(t));
}

const uint8_t* WeightStore::own(std::vector<uint8_t> bytes) {
  m_owned.push_back(std::move(bytes));
  return m_owned.back().data();
}

}  // namespace ll::rt
