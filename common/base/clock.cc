#include "common/base/clock.h"

namespace crm::base {

absl::Time SystemClock::Now() const { return absl::Now(); }

SystemClock* SystemClock::Get() {
  static auto* clock = new SystemClock();
  return clock;
}

absl::Time FakeClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

void FakeClock::Advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  now_ += d;
}

void FakeClock::Set(absl::Time t) {
  absl::MutexLock lock(&mu_);
  now_ = t;
}

}  // namespace crm::base
