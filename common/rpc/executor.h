// Executor: a fixed pool of worker threads with a bounded queue.
//
// Why: RPC handlers run on gRPC's callback threads, which must not block. Work that may block
// (a durable append, a wait for read-your-writes) is handed to this pool, so the number of
// threads is fixed by configuration, not by the number of calls in flight.
//
// Thread-safe. Stop() drains queued work, then joins the threads.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace crm::rpc {

class Executor {
 public:
  Executor(size_t threads, size_t max_queued);
  ~Executor();  // Calls Stop().

  // Queues `task`. False (task not run) if the queue is full or the executor is stopping.
  bool TrySubmit(std::function<void()> task);
  // Queues `task` whatever the queue's length: for the continuation of work already admitted
  // (a command whose events just reached the state), which must not be dropped. Runs it on the
  // calling thread if the executor is stopping.
  void Submit(std::function<void()> task);
  // Runs every queued task, then joins the threads. Idempotent.
  void Stop();

 private:
  void Work();

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace crm::rpc
