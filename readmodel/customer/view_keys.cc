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
    case Index::kExternalId:
      return "extid";
    case Index::kSocialId:
      return "social";
    case Index::kContactEmail:
      return "cemail";
    case Index::kContactPhone:
      return "cphone";
  }
  return "unknown";
}

constexpr absl::string_view kSep("\0", 1);

absl::string_view SearchFieldName(SearchField field) {
  switch (field) {
    case SearchField::kAll:
      return "all";
    case SearchField::kRegion:
      return "region";
    case SearchField::kIndustry:
      return "industry";
    case SearchField::kKind:
      return "kind";
    case SearchField::kStage:
      return "stage";
    case SearchField::kTier:
      return "tier";
    case SearchField::kOwner:
      return "owner";
    case SearchField::kTag:
      return "tag";
  }
  return "unknown";
}

}  // namespace

std::string SocialIdValue(absl::string_view network_name, absl::string_view handle) {
  return absl::StrCat(network_name, ":", handle);
}

std::string CustomerKey(absl::string_view id) { return absl::StrCat(kCustomerPrefix, id); }

std::string IndexPrefix(Index index, absl::string_view value) {
  return absl::StrCat("x/", IndexName(index), kSep, value, kSep);
}

std::string IndexKey(Index index, absl::string_view value, absl::string_view id) {
  return absl::StrCat(IndexPrefix(index, value), id);
}

std::string SearchPrefix(SearchField field, absl::string_view value) {
  return absl::StrCat("s/", SearchFieldName(field), kSep, value, kSep);
}

std::string SearchCursor(absl::string_view folded_name, absl::string_view id) {
  return absl::StrCat(folded_name, kSep, id);
}

std::string SearchKey(SearchField field, absl::string_view value, absl::string_view folded_name,
                      absl::string_view id) {
  return absl::StrCat(SearchPrefix(field, value), SearchCursor(folded_name, id));
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
