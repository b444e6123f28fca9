// What every query service shares: the read-your-writes wait on a consistency token, page sizes,
// and NOT_FOUND answers with google.rpc details. Page tokens are in page_token.h.
// Thread-safe: free functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/fold/fold_runner.h"
#include "common/rpc/unary.h"

namespace crm::services::query {

// The largest page any list returns (AIP-158).
inline constexpr int32_t kMaxPageSize = 1000;

// The page size for a request's page_size: `default_size` for 0, at most kMaxPageSize.
// INVALID_ARGUMENT naming page_size if negative.
absl::StatusOr<size_t> PageSize(int32_t requested, int32_t default_size);

// Waits until `runner` has applied the position named by `token` (empty: no wait), within the
// call's deadline and at most `max_wait`. INVALID_ARGUMENT naming consistency_token for a
// malformed token, DEADLINE_EXCEEDED (reason CONSISTENCY_WAIT_EXCEEDED) if not reached in time,
// UNAVAILABLE if the runner stopped.
absl::Status AwaitConsistencyToken(fold::FoldRunner* runner, const std::string& token,
                                   const rpc::CallContext& call, absl::Duration max_wait);

// NOT_FOUND "<name> does not exist" with ErrorInfo `reason` (metadata name) and a ResourceInfo of
// `resource_type` (e.g. "crm.v1.Complaint").
absl::Status NotFound(absl::string_view name, absl::string_view reason,
                      absl::string_view resource_type);

}  // namespace crm::services::query
