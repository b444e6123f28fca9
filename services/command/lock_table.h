// LockTable: striped mutexes that serialize commands touching the same keys (a customer id, a
// claimed e-mail, a request id) while letting unrelated commands run in parallel.
//
// Keys hash onto a fixed number of stripes; a LockSet takes its stripes in ascending order, so
// two LockSets never deadlock. Two keys may share a stripe: that costs parallelism, never
// correctness.
// Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace crm::services::command {

class LockTable {
 public:
  explicit LockTable(size_t stripes = 1024);

  // Holds the stripes of a set of keys until destroyed.
  class LockSet {
   public:
    LockSet(LockSet&& other) noexcept
        : table_(std::exchange(other.table_, nullptr)), stripes_(std::move(other.stripes_)) {}
    LockSet& operator=(LockSet&&) = delete;
    ~LockSet();

   private:
    friend class LockTable;
    LockSet(LockTable* table, std::vector<size_t> stripes);
    LockTable* table_;
    std::vector<size_t> stripes_;
  };

  // Blocks until every key's stripe is held.
  LockSet Lock(const std::vector<std::string>& keys);

 private:
  std::unique_ptr<absl::Mutex[]> mutexes_;
  const size_t stripes_;
};

}  // namespace crm::services::command
