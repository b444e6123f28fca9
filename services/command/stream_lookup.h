// The lookup commands make of another aggregate of the same stream (a complaint or interaction a
// new interaction or survey links to): read the command state, and if the aggregate is not there,
// sync the stream once and read again, so one created a moment ago through another replica is
// seen. Thread-safe as CommandExecutor.
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/command/command_executor.h"

namespace crm::services::command {

// Whether aggregate `name` (of state type StateT) exists on stream `stream_key`. Errors of the
// store or of the sync (UNAVAILABLE, DEADLINE_EXCEEDED) are returned.
template <typename StateT>
absl::StatusOr<bool> ExistsOnStream(CommandExecutor* executor, absl::string_view name,
                                    absl::string_view stream_key, absl::Time deadline) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<Versioned<StateT>> found = executor->state().template Get<StateT>(name);
    if (!found.ok()) return found.status();
    if (found->version > 0 || attempt > 0) return found->version > 0;
    absl::Status synced = executor->SyncStream(stream_key, deadline);
    if (!synced.ok()) return synced;
  }
}

}  // namespace crm::services::command
