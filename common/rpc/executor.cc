#include "common/rpc/executor.h"

namespace crm::rpc {

Executor::Executor(size_t threads, size_t max_queued, absl::Duration max_queue_delay,
                   const base::Clock* clock)
    : max_queued_(max_queued), max_queue_delay_(max_queue_delay), clock_(clock) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

Executor::~Executor() { Stop(); }

bool Executor::TrySubmit(std::function<void()> task) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= max_queued_) return false;
  if (!queue_.empty() && now - queue_.front().enqueued > max_queue_delay_) return false;
  queue_.push_back({std::move(task), now});
  return true;
}

void Executor::Submit(std::function<void()> task) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back({std::move(task), clock_->Now()});
      return;
    }
  }
  task();
}

absl::Duration Executor::OldestWait() {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  return queue_.empty() ? absl::ZeroDuration() : now - queue_.front().enqueued;
}

void Executor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Executor::Work() {
  for (;;) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Executor* e)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) { return e->stopping_ || !e->queue_.empty(); },
          this));
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front().task);
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace crm::rpc
