// Key layout of the customer views in the projection's KvStore.
//
//   c/<id>                         -> crm.v1.Customer (the customer as of its last event)
//   x/<index>\0<value>\0<id>       -> ""  secondary indexes: email, phone, owner, stage, tier, tag
//   h/<id>\0<version, 20 digits>   -> crm.events.v1.EventEnvelope (the customer's history)
//
// '\0' separates parts because ids never contain it and values are valid UTF-8 text without it
// (the command side rejects control characters), so a prefix scan on "<value>\0" is exact.
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace crm::readmodel::customer {

enum class Index { kEmail, kPhone, kOwner, kStage, kTier, kTag };

std::string CustomerKey(absl::string_view id);
inline constexpr absl::string_view kCustomerPrefix = "c/";

// The fold that writes these views (projections/customer), as the query side names it to ask
// whether the views serve (fold::FoldRunner::Serving), and its key prefixes.
inline constexpr absl::string_view kFoldName = "customer-views";
inline constexpr absl::string_view kFoldPrefixes[] = {"c/", "x/", "h/"};

// Prefix of all entries of `index` with `value`; append an id for the entry key.
std::string IndexPrefix(Index index, absl::string_view value);
std::string IndexKey(Index index, absl::string_view value, absl::string_view id);

std::string HistoryPrefix(absl::string_view id);
std::string HistoryKey(absl::string_view id, int64_t version);

// The id at the end of an index or customer key.
absl::string_view IdFromIndexKey(absl::string_view key, absl::string_view prefix);

}  // namespace crm::readmodel::customer
