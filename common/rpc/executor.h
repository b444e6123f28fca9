// Executor: a fixed pool of worker threads with a bounded queue.
//
// Why: RPC handlers run on gRPC's callback threads, which must not block. Work that may block
// (a durable append, a wait for read-your-writes) is handed to this pool, so the number of
// threads is fixed by configuration, not by the number of calls in flight.
//
// Admission control: a call is refused (TrySubmit false: the caller answers RESOURCE_EXHAUSTED)
// when the queue is full, or when the oldest queued task has waited longer than
// `max_queue_delay`: then the workers are not keeping up, and queueing more would only make every
// caller wait longer (shedding on queue time, as CoDel does, bounds the wait instead of the
// length).
//
// Thread-safe. Stop() drains queued work, then joins the threads.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"

namespace crm::rpc {

class Executor {
 public:
  Executor(size_t threads, size_t max_queued,
           absl::Duration max_queue_delay = absl::InfiniteDuration(),
           const base::Clock* clock = base::SystemClock::Get());
  ~Executor();  // Calls Stop().

  // Queues `task`. False (task not run) if the queue is full, its oldest task has waited longer
  // than max_queue_delay, or the executor is stopping.
  bool TrySubmit(std::function<void()> task);
  // Queues `task` whatever the queue's length: for the continuation of work already admitted
  // (a command whose events just reached the state), which must not be dropped. Runs it on the
  // calling thread if the executor is stopping.
  void Submit(std::function<void()> task);
  // How long the oldest queued task has waited (zero when none waits). A wait that keeps growing
  // means every worker is stuck: the liveness check (apps/runtime) watches it.
  absl::Duration OldestWait();
  // Runs every queued task, then joins the threads. Idempotent.
  void Stop();

 private:
  void Work();

  struct Queued {
    std::function<void()> task;
    absl::Time enqueued;
  };

  const size_t max_queued_;
  const absl::Duration max_queue_delay_;
  const base::Clock* const clock_;
  absl::Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace crm::rpc
