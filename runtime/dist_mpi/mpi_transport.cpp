// MPI implementation of the pipeline transport (see mpi_transport.h).
#include "runtime/dist_mpi/mpi_transport.h"

#include <mpi.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "runtime/dist/poll.h"

namespace ll::rt::dist {

MpiTransport::MpiTransport(int* argc, char*** argv) {
  int inited = 0;
  MPI_Initialized(&inited);
  // `serve` drives the pipeline from its client threads, one at a time (under a lock).
  int provided = 0;
  if (!inited) MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &m_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &m_size);
}

MpiTransport::~MpiTransport() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void MpiTransport::send(int to, int tag, const void* data, size_t bytes, double timeoutS,
                        const std::string& what) {
  if (bytes > size_t(INT_MAX))
    throw TransportError(what + ": " + std::to_string(bytes) +
                         " bytes is more than one MPI message carries");
  MPI_Request req;
  MPI_Isend(data, static_cast<int>(bytes), MPI_BYTE, to, tag, MPI_COMM_WORLD, &req);
  const bool done = pollUntil(timeoutS, [&] {
    int flag = 0;
    MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
    return flag != 0;
  });
  if (!done)
    throw TransportError("rank " + std::to_string(to) + " did not take " + what + " within " +
                         secondsText(timeoutS) + " (it died or hangs)");
}

std::vector<char> MpiTransport::recv(int from, int tag, size_t maxBytes, double timeoutS,
                                     const std::string& what) {
  MPI_Status st;
  const bool arrived = pollUntil(timeoutS, [&] {
    int flag = 0;
    MPI_Iprobe(from, tag, MPI_COMM_WORLD, &flag, &st);
    return flag != 0;
  });
  if (!arrived)
    throw TransportError("nothing from rank " + std::to_string(from) + " within " +
                         secondsText(timeoutS) + " (" + what + "; it died or hangs)");
  int count = 0;
  MPI_Get_count(&st, MPI_BYTE, &count);
  if (count < 0 || size_t(count) > maxBytes)
    throw TransportError("rank " + std::to_string(from) + " sent " + std::to_string(count) +
                         " bytes for " + what + ", at most " + std::to_string(maxBytes) +
                         " expected");
  std::vector<char> buf(static_cast<size_t>(count));
  MPI_Recv(buf.data(), count, MPI_BYTE, from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  return buf;
}

bool MpiTransport::poll(int from, int tag) {
  // Open MPI's MPI_Iprobe matches before it progresses the transport, not after: a message that
  // arrived while this rank computed is taken in by the first call and seen by the second (one
  // call alone answered a cancel sent half a second earlier only one layer later).
  int flag = 0;
  for (int i = 0; i < 2 && !flag; ++i)
    MPI_Iprobe(from, tag, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
  return flag != 0;
}

void MpiTransport::abort(const std::string& why) {
  std::fprintf(stderr, "layerlens-cli: rank %d: %s\n", m_rank, why.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();  // MPI_Abort does not return
}

}  // namespace ll::rt::dist
