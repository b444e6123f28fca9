#include "services/command/lock_table.h"

#include <algorithm>

#include "absl/hash/hash.h"

namespace crm::services::command {

LockTable::LockTable(size_t stripes) : stripes_(stripes) {}

LockTable::LockSet::LockSet(LockTable* table, std::vector<size_t> stripes)
    : table_(table), stripes_(std::move(stripes)) {}

LockTable::LockSet::~LockSet() {
  if (table_ != nullptr) table_->Release(stripes_);
}

bool LockTable::Advance(const std::shared_ptr<Waiter>& waiter) {
  while (waiter->next < waiter->stripes.size()) {
    Stripe& stripe = stripes_[waiter->stripes[waiter->next]];
    if (stripe.held) {
      stripe.waiters.push_back(waiter);
      return false;
    }
    stripe.held = true;
    ++waiter->next;
  }
  return true;
}

base::Future<LockTable::LockSet> LockTable::Acquire(const std::vector<std::string>& keys) {
  auto waiter = std::make_shared<Waiter>();
  const size_t count = stripes_.size();
  for (const auto& k : keys) waiter->stripes.push_back(absl::Hash<std::string>{}(k) % count);
  std::sort(waiter->stripes.begin(), waiter->stripes.end());
  waiter->stripes.erase(std::unique(waiter->stripes.begin(), waiter->stripes.end()),
                        waiter->stripes.end());
  base::Future<LockSet> future = waiter->promise.future();
  bool acquired;
  {
    absl::MutexLock lock(&mu_);
    acquired = Advance(waiter);
  }
  if (acquired) waiter->promise.Set(LockSet(this, waiter->stripes));
  return future;
}

void LockTable::Release(const std::vector<size_t>& stripes) {
  std::vector<std::shared_ptr<Waiter>> ready;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = stripes.rbegin(); it != stripes.rend(); ++it) {
      Stripe& stripe = stripes_[*it];
      if (stripe.waiters.empty()) {
        stripe.held = false;
        continue;
      }
      // Hand the stripe over (it stays held) and let the waiter take its next ones.
      std::shared_ptr<Waiter> next = std::move(stripe.waiters.front());
      stripe.waiters.pop_front();
      ++next->next;
      if (Advance(next)) ready.push_back(std::move(next));
    }
  }
  for (auto& waiter : ready) waiter->promise.Set(LockSet(this, waiter->stripes));
}

}  // namespace crm::services::command
