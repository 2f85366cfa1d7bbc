// Whether this process was started by an MPI launcher with several ranks, read from the
// launcher's environment (Open MPI, MPICH/PMI, PMIx), so a build without MPI can say so instead of
// running N copies of the same command.
#pragma once

#include <cstdlib>

namespace ll::rt::dist {

inline bool launchedWithSeveralRanks() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"})
    if (const char* s = std::getenv(v)) return std::atoi(s) > 1;
  return false;
}

}  // namespace ll::rt::dist
