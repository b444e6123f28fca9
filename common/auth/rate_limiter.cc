#include "common/auth/rate_limiter.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status/errors.h"
#include "google/rpc/error_details.pb.h"

namespace crm::auth {

absl::StatusOr<RateLimit> ParseRateLimit(absl::string_view text, int64_t burst) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("a rate limit is <N>/s, <N>/m or <N>/h (e.g. 100/s), not \"", text, "\""));
  };
  const size_t slash = text.find('/');
  if (slash == absl::string_view::npos) return bad();
  double count = 0;
  if (!absl::SimpleAtod(text.substr(0, slash), &count) || !(count > 0) || std::isinf(count)) {
    return bad();
  }
  const absl::string_view unit = text.substr(slash + 1);
  double seconds = 0;
  if (unit == "s") {
    seconds = 1;
  } else if (unit == "m") {
    seconds = 60;
  } else if (unit == "h") {
    seconds = 3600;
  } else {
    return bad();
  }
  if (burst < 0) return absl::InvalidArgumentError("the burst of a rate limit must be positive");
  RateLimit limit;
  limit.per_second = count / seconds;
  limit.burst = burst > 0 ? static_cast<double>(burst) : std::max(1.0, std::floor(count));
  limit.text = std::string(text);
  return limit;
}

RateLimiter::RateLimiter(RateLimit limit, const base::Clock* clock)
    : limit_(std::move(limit)), clock_(clock) {}

double RateLimiter::Refilled(const Bucket& bucket, absl::Time now) const {
  const double elapsed =
      absl::ToDoubleSeconds(std::max(absl::ZeroDuration(), now - bucket.updated));
  return std::min(limit_.burst, bucket.tokens + elapsed * limit_.per_second);
}

void RateLimiter::DropFullBuckets(absl::Time now) {
  absl::erase_if(buckets_,
                 [&](const auto& entry) { return Refilled(entry.second, now) >= limit_.burst; });
  sweep_at_ = std::max<size_t>(4096, buckets_.size() * 2);
}

absl::Status RateLimiter::Admit(absl::string_view key) {
  const absl::Time now = clock_->Now();
  double missing = 0;
  {
    absl::MutexLock lock(&mu_);
    if (buckets_.size() >= sweep_at_) DropFullBuckets(now);
    auto [it, added] = buckets_.try_emplace(key, Bucket{limit_.burst, now});
    Bucket& bucket = it->second;
    bucket.tokens = Refilled(bucket, now);
    bucket.updated = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return absl::OkStatus();
    }
    missing = 1 - bucket.tokens;
  }
  // Rounded up to the millisecond, so that a retry after retry_delay finds the token there.
  const absl::Duration wait = absl::Milliseconds(std::ceil(missing / limit_.per_second * 1000));
  absl::Status status =
      status::Error(absl::StatusCode::kResourceExhausted,
                    absl::StrCat("rate limit of ", limit_.text, " exceeded; retry after ",
                                 absl::FormatDuration(wait)),
                    kRateLimited, {{"limit", limit_.text}});
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_seconds(absl::ToInt64Seconds(wait));
  retry.mutable_retry_delay()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(wait % absl::Seconds(1))));
  status::AddDetail(status, retry);
  return status;
}

size_t RateLimiter::KeyCount() const {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

}  // namespace crm::auth
