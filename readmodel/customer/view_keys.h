// Key layout of the customer views in the projection's KvStore.
//
//   c/<id>                         -> crm.v1.Customer (the customer as of its last event)
//   x/<index>\0<value>\0<id>       -> ""  secondary indexes: email, phone, owner, stage, tier, tag,
//                                        external id ("extid"), social id ("social"), contact
//                                        persons' e-mails and phones ("cemail", "cphone")
//   h/<id>\0<version, 20 digits>   -> crm.events.v1.EventEnvelope (the customer's history)
//   s/<field>\0<value>\0<folded display name>\0<id> -> ""  search indexes (SearchCustomers)
//
// The x/ indexes are in id order within a value (ListCustomers answers in id order); the s/
// indexes are in (folded display name, id) order within a value (SearchCustomers answers in that
// order), so that a name prefix is a range within any of them and a page is a range scan of one.
// The s/ fields: all (every customer, value ""), region and industry (folded, text_fold.h), kind,
// stage and tier (enum names), owner (staff id), tag. A customer's folded name is in every one of
// its s/ keys, so a change of name rewrites them all.
//
// '\0' separates parts because ids never contain it and values are valid UTF-8 text without it
// (the command side rejects control characters), so a prefix scan on "<value>\0" is exact.
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace crm::readmodel::customer {

enum class Index {
  kEmail,
  kPhone,
  kOwner,
  kStage,
  kTier,
  kTag,
  kExternalId,
  kSocialId,      // value: SocialIdValue
  kContactEmail,  // a contact person's e-mail
  kContactPhone,  // a contact person's phone
};

// The social id index's value of (network, handle): "<SocialNetwork name>:<handle>" (a network
// name has no ':', so the first one ends it).
std::string SocialIdValue(absl::string_view network_name, absl::string_view handle);

std::string CustomerKey(absl::string_view id);
inline constexpr absl::string_view kCustomerPrefix = "c/";

// The fold that writes these views (projections/customer), as the query side names it to ask
// whether the views serve (fold::FoldRunner::Serving), and its key prefixes.
inline constexpr absl::string_view kFoldName = "customer-views";
inline constexpr absl::string_view kFoldPrefixes[] = {"c/", "x/", "h/", "s/"};

// Prefix of all entries of `index` with `value`; append an id for the entry key.
std::string IndexPrefix(Index index, absl::string_view value);
std::string IndexKey(Index index, absl::string_view value, absl::string_view id);

// The search indexes (s/ above).
enum class SearchField { kAll, kRegion, kIndustry, kKind, kStage, kTier, kOwner, kTag };
// Prefix of all entries of `field` with `value` (kAll: value ""); append a folded-name prefix to
// narrow it to names starting with that prefix.
std::string SearchPrefix(SearchField field, absl::string_view value);
// The position of a customer in every search index: "<folded display name>\0<id>". Page tokens
// of SearchCustomers carry it.
std::string SearchCursor(absl::string_view folded_name, absl::string_view id);
std::string SearchKey(SearchField field, absl::string_view value, absl::string_view folded_name,
                      absl::string_view id);

std::string HistoryPrefix(absl::string_view id);
std::string HistoryKey(absl::string_view id, int64_t version);

// The id at the end of an index or customer key.
absl::string_view IdFromIndexKey(absl::string_view key, absl::string_view prefix);

}  // namespace crm::readmodel::customer
