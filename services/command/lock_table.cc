#include "services/command/lock_table.h"

#include <algorithm>

#include "absl/hash/hash.h"

namespace crm::services::command {

LockTable::LockTable(size_t stripes) : mutexes_(new absl::Mutex[stripes]), stripes_(stripes) {}

LockTable::LockSet::LockSet(LockTable* table, std::vector<size_t> stripes)
    : table_(table), stripes_(std::move(stripes)) {}

LockTable::LockSet::~LockSet() {
  if (table_ == nullptr) return;
  for (auto it = stripes_.rbegin(); it != stripes_.rend(); ++it) table_->mutexes_[*it].Unlock();
}

LockTable::LockSet LockTable::Lock(const std::vector<std::string>& keys) {
  std::vector<size_t> stripes;
  for (const auto& k : keys) stripes.push_back(absl::Hash<std::string>{}(k) % stripes_);
  std::sort(stripes.begin(), stripes.end());
  stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
  for (size_t s : stripes) mutexes_[s].Lock();
  return LockSet(this, std::move(stripes));
}

}  // namespace crm::services::command
