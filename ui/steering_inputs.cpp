// The Steering panel's inputs as the worker reads them (steering_inputs.h).
#include "ui/steering_inputs.h"

#include <stdexcept>

namespace ll::ui {

const std::vector<float>& savedSteeringVector(const SteeringSettings& st, int nEmbd) {
  if (st.savedVector.size() != size_t(nEmbd))
    throw std::invalid_argument("the session's steering vector has " +
                                std::to_string(st.savedVector.size()) +
                                " values; this model's width is " + std::to_string(nEmbd));
  return st.savedVector;
}

void checkSteeringInputs(const SteeringSettings& st) {
  if (st.source == SteerSource::Concept) {
    if (st.conceptWord.empty()) throw std::invalid_argument("enter a concept word");
    if (st.baselines.empty()) throw std::invalid_argument("enter at least one baseline word");
  } else if (st.positive.empty() || st.negative.empty()) {
    throw std::invalid_argument("enter at least one positive and one negative prompt");
  }
}

std::string steeringVectorKey(const SteeringSettings& st, int layer) {
  std::string key =
      std::to_string(layer) + '|' + std::to_string(int(st.source)) + '|' + st.conceptWord;
  for (const auto* list : {&st.baselines, &st.positive, &st.negative}) {
    key += '#';
    for (const auto& w : *list) key += w + '\x1f';
  }
  return key;
}

SteeringSettings steerSweepKey(SteeringSettings st) {
  st.enabled = false;
  st.genTokens = 0;
  return st;
}

}  // namespace ll::ui
