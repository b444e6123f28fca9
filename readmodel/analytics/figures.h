// Building blocks of folded figures, shared by the analytics and segment read models: counters
// stored as decimal text, keys that sort by time or by duration, and time conversions.
//
// Why: both folds keep counters they increment (and decrement) as events arrive, and lists keyed
// so that a query scans only a time window or the first ranks of a sorted figure. One encoding
// for both keeps them byte-identical across rebuilds.
// Thread-safe: pure functions, or functions over a caller-owned batch.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/base/time_util.h"
#include "common/kv/kv_store.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace crm::readmodel::analytics {

// Adds `delta` to the counter at `key` (absent = 0). A counter that reaches 0 is deleted, so a
// store holds only non-zero counters. INTERNAL if the stored value is not a number.
absl::Status AddToCounter(kv::KvBatch& batch, absl::string_view key, int64_t delta);

// The counter at `key`, 0 if absent. INTERNAL if the stored value is not a number.
absl::StatusOr<int64_t> ReadCounter(const kv::KvStore& store, absl::string_view key);
// A stored counter value; INTERNAL naming `key` if it is not a number.
absl::StatusOr<int64_t> ParseCounter(absl::string_view key, absl::string_view value);

// Reads the integer stored at `key` through `batch` (0 if absent), as AddToCounter stores it.
absl::StatusOr<int64_t> ReadCounter(const kv::KvBatch& batch, absl::string_view key);

// Every counter under `prefix`, by the rest of its key. With `start`/`end` set, only keys in
// [start, end) (which must all start with `prefix`). INTERNAL if a value is not a number.
absl::StatusOr<std::map<std::string, int64_t>> ScanCounters(const kv::KvStore& store,
                                                            absl::string_view prefix,
                                                            absl::string_view start = "",
                                                            absl::string_view end = "");
// Counters keyed by an enum number (the rest of the key after `prefix`).
absl::StatusOr<std::map<int, int64_t>> ScanEnumCounters(const kv::KvStore& store,
                                                        absl::string_view prefix);
// (value, count) for every non-zero value of `type` in declaration order, zeros included, then
// the other values that have a non-zero count (unspecified, unknown) in number order.
std::vector<std::pair<int, int64_t>> EnumCounts(const google::protobuf::EnumDescriptor* type,
                                                const std::map<int, int64_t>& counts);

// The key just after every key starting with `prefix` (for an exclusive scan end).
// REQUIRES: prefix ends with a byte below 0xff.
std::string PrefixEnd(absl::string_view prefix);

using base::ToTime;
using base::ToTimestamp;
google::protobuf::Duration ToDurationProto(absl::Duration d);

// A key part that sorts like the time: 12 digits of seconds since 0001-01-01T00:00:00Z, then 9
// digits of nanoseconds. Times outside the protobuf Timestamp range are clamped to it.
std::string OrderedTime(absl::Time t);

// A key part that sorts like the non-negative number: 20 digits, zero-padded.
std::string OrderedNumber(int64_t n);

// The milliseconds from `from` to `to`, truncated toward zero; 0 if `to` is before `from`.
int64_t MillisBetween(absl::Time from, absl::Time to);

// A report's time window [start, end); nullopt is unbounded on that side, both nullopt is all
// time.
struct Window {
  std::optional<absl::Time> start;
  std::optional<absl::Time> end;
  bool AllTime() const { return !start.has_value() && !end.has_value(); }
  bool Contains(absl::Time t) const {
    return (!start.has_value() || t >= *start) && (!end.has_value() || t < *end);
  }
};

// Time buckets of the windowed counters: quarter hours (so that a day, week or month of any zone
// whose UTC offset is a multiple of 15 minutes, Asia/Kolkata's +05:30 and Asia/Kathmandu's
// +05:45 included, is a whole number of buckets). Bucket n starts n quarter hours after
// 0001-01-01T00:00:00Z; times outside the protobuf Timestamp range are clamped to it.
inline constexpr int64_t kTimeBucketSeconds = 900;
int64_t TimeBucketOf(absl::Time t);
absl::Time TimeBucketStart(int64_t bucket);
// Whether `t` is the start of a time bucket (a whole quarter hour in UTC).
bool OnTimeBucketEdge(absl::Time t);

// Windowed counters. A figure is a key prefix ("<area>/<figure>/...") and the counters under it
// are its dimensions ("<figure prefix><dims>", the all-time counter). Each is also counted per
// time bucket, under "<area>/w/<figure>...<bucket, 11 digits>/<dims>": time first, so that a
// window is one range scan of the figure's buckets, whatever the dimensions.
std::string TimedFigurePrefix(absl::string_view figure_prefix);
std::string TimedKey(absl::string_view figure_prefix, int64_t bucket, absl::string_view dims);
// Adds `delta` to the all-time counter of `dims` and to its counter in the bucket of `at`.
absl::Status CountAt(kv::KvBatch& batch, absl::string_view figure_prefix, absl::string_view dims,
                     absl::Time at, int64_t delta);
// The counters of a figure summed over the window, by dims: the all-time counters when the
// window is all time, else a scan of the figure's buckets in the window. REQUIRES: each set end
// of the window is on a bucket edge. INTERNAL if a counter is not a number.
absl::StatusOr<std::map<std::string, int64_t>> ReadFigure(const kv::KvStore& store,
                                                          absl::string_view figure_prefix,
                                                          const Window& window);
// Calls `visit(bucket, dims, count)` for every bucketed counter of the figure in the window, in
// bucket order.
absl::Status ScanTimedFigure(
    const kv::KvStore& store, absl::string_view figure_prefix, const Window& window,
    const std::function<void(int64_t bucket, absl::string_view dims, int64_t n)>& visit);

// The 1-based nearest rank of a percentile: ceil(percent / 100 * count). REQUIRES: count > 0,
// 0 < percent <= 100.
int64_t NearestRank(int64_t count, int percent);

}  // namespace crm::readmodel::analytics
