// Which arrays of a remote trace a client reads (RemoteSession::fetch). Header-only and free of
// gRPC, so the CLI names what its commands need whether or not it was built with the client.
#pragma once

namespace ll::remote {

enum TracePart : unsigned {
  kPartLogits = 1u << 0,
  kPartEmbd = 1u << 1,
  kPartFinalNorm = 1u << 2,
  kPartResid = 1u << 3,       // resid and residMid
  kPartQK = 1u << 4,          // every row of the queries, and the keys
  kPartAttnStats = 1u << 5,   // entropy, lastRow, colSum
  kPartRouting = 1u << 6,     // router logits and probabilities, experts and their weights
  kPartComponents = 1u << 7,  // attnOut, mlpOut, headOut
  kPartAll = (1u << 8) - 1,
};

}  // namespace ll::remote
