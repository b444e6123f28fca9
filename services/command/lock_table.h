// LockTable: striped locks that serialize commands touching the same keys (an aggregate, a
// request id) while letting unrelated commands run in parallel, without holding a thread while a
// command waits for its turn.
//
// Keys hash onto a fixed number of stripes. Acquire takes a set's stripes in ascending order, so
// two sets never deadlock; a stripe that is held queues the acquirer (FIFO), and its release hands
// the stripe straight to the first waiter, whose future completes on the releasing thread. Two
// keys may share a stripe: that costs parallelism, never correctness.
//
// Thread-safe. The table must outlive every LockSet.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/base/future.h"

namespace crm::services::command {

class LockTable {
 public:
  explicit LockTable(size_t stripes = 1024);

  // Holds the stripes of a set of keys until destroyed (on any thread).
  class LockSet {
   public:
    LockSet(LockSet&& other) noexcept
        : table_(std::exchange(other.table_, nullptr)), stripes_(std::move(other.stripes_)) {}
    LockSet& operator=(LockSet&& other) noexcept {
      if (this != &other) {
        if (table_ != nullptr) table_->Release(stripes_);
        table_ = std::exchange(other.table_, nullptr);
        stripes_ = std::move(other.stripes_);
      }
      return *this;
    }
    ~LockSet();

   private:
    friend class LockTable;
    LockSet(LockTable* table, std::vector<size_t> stripes);
    LockTable* table_;
    std::vector<size_t> stripes_;
  };

  // Ready at once if every key's stripe is free; else completed once they all are held for this
  // caller (on the thread that released the last one).
  base::Future<LockSet> Acquire(const std::vector<std::string>& keys);

 private:
  struct Waiter {
    std::vector<size_t> stripes;
    size_t next = 0;  // stripes[0, next) are held
    base::Promise<LockSet> promise;
  };
  struct Stripe {
    bool held = false;
    std::deque<std::shared_ptr<Waiter>> waiters;
  };
  // Takes the waiter's next stripes while free; false if it had to queue on one.
  bool Advance(const std::shared_ptr<Waiter>& waiter) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release(const std::vector<size_t>& stripes);

  absl::Mutex mu_;
  std::vector<Stripe> stripes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::services::command
