// One bounded slice of a trace (a field, a layer, a row range) as a ReadTrace reply, and the shape
// of each field, so the server answers reads and the client plans them from the same table.
#pragma once

#include <cstdint>

#include "remote/convert.h"

namespace ll::remote {

// Rows and columns of `field` in a trace of these shapes (per-head fields: rows are heads).
struct FieldShape {
  int rows = 0;
  int cols = 0;
  bool perLayer = false;
};
FieldShape fieldShape(const pb::TraceInfo& info, pb::TraceField field);

// Fills `out` with rows [row_begin, row_end) of the requested array. Throws std::invalid_argument
// naming the bad field, layer or row range, or a range whose reply would pass maxMessageBytes. An
// array the trace does not hold (no capture of it, an MoE array of a dense layer) reads as
// rows = cols = 0.
void readTrace(const rt::Trace& tr, const pb::TraceReadRequest& req, int64_t maxMessageBytes,
               pb::TraceReadReply* out);

}  // namespace ll::remote
