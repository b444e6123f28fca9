#include "readmodel/customer/view_keys.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crm::readmodel::customer {
namespace {

absl::string_view IndexName(Index index) {
  switch (index) {
    case Index::kEmail:
      return "email";
    case Index::kPhone:
      return "phone";
    case Index::kOwner:
      return "owner";
    case Index::kStage:
      return "stage";
    case Index::kTier:
      return "tier";
    case Index::kTag:
      return "tag";
  }
  return "unknown";
}

constexpr absl::string_view kSep("\0", 1);

}  // namespace

std::string CustomerKey(absl::string_view id) { return absl::StrCat(kCustomerPrefix, id); }

std::string IndexPrefix(Index index, absl::string_view value) {
  return absl::StrCat("x/", IndexName(index), kSep, value, kSep);
}

std::string IndexKey(Index index, absl::string_view value, absl::string_view id) {
  return absl::StrCat(IndexPrefix(index, value), id);
}

std::string HistoryPrefix(absl::string_view id) { return absl::StrCat("h/", id, kSep); }

std::string HistoryKey(absl::string_view id, int64_t version) {
  return absl::StrCat(HistoryPrefix(id), absl::StrFormat("%020d", version));
}

absl::string_view IdFromIndexKey(absl::string_view key, absl::string_view prefix) {
  key.remove_prefix(prefix.size());
  return key;
}

}  // namespace crm::readmodel::customer
