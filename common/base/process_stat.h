// What Linux says of this process (/proc/self/stat, /proc/stat): CPU time, start time, memory.
// One reader for the process metrics (common/metrics) and the admin service's status.
//
// Thread-safe (reads files each call).
#pragma once

#include <optional>

#include "absl/time/time.h"

namespace crm::base {

struct ProcessStat {
  double cpu_seconds = 0;  // user + system
  std::optional<absl::Time> start_time;
  double resident_bytes = 0;
  double virtual_bytes = 0;
};

// Zeros and nullopt for what cannot be read.
ProcessStat ReadProcessStat();

}  // namespace crm::base
