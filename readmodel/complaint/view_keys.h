// Key layout of the complaint views in the views KvStore, all under "cp/" (written by
// projections/complaint, read by ComplaintViews). <name> is the complaint's resource name
// "customers/{cid}/complaints/{id}".
//
//   cp/c/<name>                            -> crm.v1.Complaint (as of its last event; its version
//                                             is the last applied aggregate_version)
//   cp/h/<name>\0<version, 20 digits>      -> crm.events.v1.EventEnvelope (its history)
//   cp/x/<index>\0<value>\0<name>          -> ""  status, assignee (staff id), category, severity
//   cp/d/<due, 30 digits>\0<name>\0<kind>  -> ""  open deadlines (not met, complaint not resolved)
//                                             by due time; kind is the SlaKind number
//   cp/b/<name>                            -> ""  breached and not resolved
//
// A customer's complaints need no index: they are the range cp/c/customers/<cid>/complaints/.
// Overdue depends on "now", so it is not stored: a query scans the open deadlines due before now
// (one range) and the breached set.
//
// '\0' separates parts because names and values never contain it, so a prefix scan on
// "<value>\0" is exact; due times are fixed-width digits so that key order is time order.
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crm/v1/complaint.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace crm::readmodel::complaint {

inline constexpr absl::string_view kPrefix = "cp/";
// The fold that writes these views (projections/complaint), for fold::FoldRunner::Serving.
inline constexpr absl::string_view kFoldName = "complaint-views";
inline constexpr absl::string_view kComplaintPrefix = "cp/c/";
inline constexpr absl::string_view kDeadlinePrefix = "cp/d/";
inline constexpr absl::string_view kBreachedPrefix = "cp/b/";

enum class Index { kStatus, kAssignee, kCategory, kSeverity };

std::string ComplaintKey(absl::string_view name);
// Range of the complaints of customer `customer_id` (a prefix of their ComplaintKeys).
std::string CustomerComplaintsPrefix(absl::string_view customer_id);

std::string HistoryPrefix(absl::string_view name);
std::string HistoryKey(absl::string_view name, int64_t version);

// Prefix of all entries of `index` with `value`; append a name for the entry key.
std::string IndexPrefix(Index index, absl::string_view value);
std::string IndexKey(Index index, absl::string_view value, absl::string_view name);

// Fixed-width decimal form of a time (seconds since 0001-01-01 and nanoseconds), so that byte
// order is time order. Times outside the Timestamp range are clamped to it.
std::string SortableTime(absl::Time t);
std::string SortableTime(const google::protobuf::Timestamp& t);
std::string DeadlineKey(const google::protobuf::Timestamp& due, absl::string_view name,
                        crm::v1::SlaKind kind);
// The first key after every deadline entry due strictly before `now`.
std::string DeadlinesDueBefore(absl::Time now);
// The complaint name in a DeadlineKey; empty if `key` is not one.
absl::string_view NameFromDeadlineKey(absl::string_view key);

std::string BreachedKey(absl::string_view name);

// What follows `prefix` in `key`. REQUIRES: key starts with prefix.
absl::string_view Suffix(absl::string_view key, absl::string_view prefix);

}  // namespace crm::readmodel::complaint
