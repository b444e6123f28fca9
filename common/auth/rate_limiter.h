// RateLimiter: a token bucket per principal, so that one caller over its rate is refused while
// every other caller goes on.
//
// Each key (a principal's subject) has a bucket of `burst` tokens that refills at `per_second`;
// a call takes one token or is refused with RESOURCE_EXHAUSTED carrying google.rpc.RetryInfo
// (retry_delay: when the next token is there) and ErrorInfo reason RATE_LIMITED (metadata
// "limit": the configured rate, e.g. "100/s"). A refused call takes nothing, so a client that
// waits for retry_delay gets through.
//
// Memory: a bucket that is full again is the same as no bucket, so full buckets are dropped
// when the table grows past 4096 keys (and checked again each time it doubles from there).
//
// Thread-safe.
#pragma once

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"

namespace crm::auth {

// ErrorInfo reason of a refused call.
inline constexpr absl::string_view kRateLimited = "RATE_LIMITED";

struct RateLimit {
  double per_second = 0;
  double burst = 0;
  std::string text;  // as configured, e.g. "100/s"
};

// Parses "<N>/s", "<N>/m" or "<N>/h" (N a positive number, e.g. "100/s", "6000/m", "0.5/s").
// `burst` 0 means N (one unit's worth: "6000/m" allows 6000 at once). INVALID_ARGUMENT
// otherwise.
absl::StatusOr<RateLimit> ParseRateLimit(absl::string_view text, int64_t burst = 0);

class RateLimiter {
 public:
  // `clock` is not owned and must outlive this.
  explicit RateLimiter(RateLimit limit, const base::Clock* clock = base::SystemClock::Get());

  // Takes a token from `key`'s bucket: OK, or RESOURCE_EXHAUSTED (see above).
  absl::Status Admit(absl::string_view key);

  const RateLimit& limit() const { return limit_; }
  // Keys with a bucket now. For tests.
  size_t KeyCount() const;

 private:
  struct Bucket {
    double tokens;
    absl::Time updated;
  };
  double Refilled(const Bucket& bucket, absl::Time now) const;
  void DropFullBuckets(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RateLimit limit_;
  const base::Clock* const clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  size_t sweep_at_ ABSL_GUARDED_BY(mu_) = 4096;
};

}  // namespace crm::auth
