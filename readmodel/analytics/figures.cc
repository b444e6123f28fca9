#include "readmodel/analytics/figures.h"

#include <algorithm>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"

namespace crm::readmodel::analytics {
namespace {

// Seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the protobuf Timestamp range.
constexpr int64_t kMinSeconds = -62'135'596'800;
constexpr int64_t kMaxSeconds = 253'402'300'799;

}  // namespace

absl::StatusOr<int64_t> ParseCounter(absl::string_view key, absl::string_view value) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(value, &n)) {
    return absl::InternalError(absl::StrCat("figure ", absl::CHexEscape(key),
                                            " holds a non-number: ", absl::CHexEscape(value)));
  }
  return n;
}

absl::StatusOr<int64_t> ReadCounter(const kv::KvBatch& batch, absl::string_view key) {
  CRM_ASSIGN_OR_RETURN(auto value, batch.Get(key));
  if (!value.has_value()) return 0;
  return ParseCounter(key, *value);
}

absl::Status AddToCounter(kv::KvBatch& batch, absl::string_view key, int64_t delta) {
  if (delta == 0) return absl::OkStatus();
  CRM_ASSIGN_OR_RETURN(int64_t n, ReadCounter(batch, key));
  n += delta;
  if (n == 0) {
    batch.Delete(key);
  } else {
    batch.Put(key, absl::StrCat(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ReadCounter(const kv::KvStore& store, absl::string_view key) {
  CRM_ASSIGN_OR_RETURN(auto value, store.Get(key));
  if (!value.has_value()) return 0;
  return ParseCounter(key, *value);
}

absl::StatusOr<std::map<std::string, int64_t>> ScanCounters(const kv::KvStore& store,
                                                            absl::string_view prefix,
                                                            absl::string_view start,
                                                            absl::string_view end) {
  std::map<std::string, int64_t> out;
  absl::Status parsed;
  auto visit = [&](absl::string_view key, absl::string_view value) {
    absl::StatusOr<int64_t> n = ParseCounter(key, value);
    if (!n.ok()) {
      parsed = n.status();
      return false;
    }
    out.emplace(std::string(key.substr(prefix.size())), *n);
    return true;
  };
  absl::Status scanned = start.empty() && end.empty() ? store.ScanPrefix(prefix, "", 0, visit)
                                                      : store.Scan(start, end, 0, visit);
  CRM_RETURN_IF_ERROR(scanned);
  CRM_RETURN_IF_ERROR(parsed);
  return out;
}

absl::StatusOr<std::map<int, int64_t>> ScanEnumCounters(const kv::KvStore& store,
                                                        absl::string_view prefix) {
  CRM_ASSIGN_OR_RETURN(auto counters, ScanCounters(store, prefix));
  std::map<int, int64_t> out;
  for (const auto& [rest, n] : counters) {
    int value = 0;
    if (!absl::SimpleAtoi(rest, &value)) {
      return absl::InternalError(absl::StrCat("malformed figure key under ", prefix));
    }
    out[value] += n;
  }
  return out;
}

std::vector<std::pair<int, int64_t>> EnumCounts(const google::protobuf::EnumDescriptor* type,
                                                const std::map<int, int64_t>& counts) {
  std::vector<std::pair<int, int64_t>> out;
  std::set<int> listed;
  for (int i = 0; i < type->value_count(); ++i) {
    const int number = type->value(i)->number();
    if (number == 0 || !listed.insert(number).second) continue;
    auto it = counts.find(number);
    out.emplace_back(number, it == counts.end() ? 0 : it->second);
  }
  for (const auto& [number, n] : counts) {
    if (!listed.count(number) && n != 0) out.emplace_back(number, n);
  }
  return out;
}

std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  end.back() = static_cast<char>(end.back() + 1);
  return end;
}

google::protobuf::Duration ToDurationProto(absl::Duration d) {
  google::protobuf::Duration out;
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);  // Toward zero.
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
  return out;
}

std::string OrderedTime(absl::Time t) {
  google::protobuf::Timestamp ts = base::ToTimestamp(t);
  int64_t seconds = ts.seconds();
  int64_t nanos = ts.nanos();
  if (seconds < kMinSeconds) {
    seconds = kMinSeconds;
    nanos = 0;
  } else if (seconds > kMaxSeconds) {
    seconds = kMaxSeconds;
    nanos = 999'999'999;
  }
  return absl::StrFormat("%012d%09d", seconds - kMinSeconds, nanos);
}

std::string OrderedNumber(int64_t n) { return absl::StrFormat("%020d", std::max<int64_t>(n, 0)); }

int64_t MillisBetween(absl::Time from, absl::Time to) {
  if (to <= from) return 0;
  return absl::ToInt64Milliseconds(to - from);
}

int64_t TimeBucketOf(absl::Time t) {
  google::protobuf::Timestamp ts = base::ToTimestamp(t);
  const int64_t seconds = std::clamp<int64_t>(ts.seconds(), kMinSeconds, kMaxSeconds);
  return (seconds - kMinSeconds) / kTimeBucketSeconds;
}

absl::Time TimeBucketStart(int64_t bucket) {
  return absl::FromUnixSeconds(kMinSeconds + bucket * kTimeBucketSeconds);
}

bool OnTimeBucketEdge(absl::Time t) { return TimeBucketStart(TimeBucketOf(t)) == t; }

namespace {

std::string OrderedBucket(int64_t bucket) { return absl::StrFormat("%011d", bucket); }
constexpr size_t kBucketDigits = 11;

// The scan range of a figure's buckets in the window.
std::pair<std::string, std::string> TimedRange(absl::string_view figure_prefix,
                                               const Window& window) {
  const std::string prefix = TimedFigurePrefix(figure_prefix);
  return {window.start.has_value()
              ? absl::StrCat(prefix, OrderedBucket(TimeBucketOf(*window.start)))
              : prefix,
          window.end.has_value() ? absl::StrCat(prefix, OrderedBucket(TimeBucketOf(*window.end)))
                                 : PrefixEnd(prefix)};
}

}  // namespace

std::string TimedFigurePrefix(absl::string_view figure_prefix) {
  const size_t slash = figure_prefix.find('/');
  return absl::StrCat(figure_prefix.substr(0, slash + 1), "w/", figure_prefix.substr(slash + 1));
}

std::string TimedKey(absl::string_view figure_prefix, int64_t bucket, absl::string_view dims) {
  return absl::StrCat(TimedFigurePrefix(figure_prefix), OrderedBucket(bucket), "/", dims);
}

absl::Status CountAt(kv::KvBatch& batch, absl::string_view figure_prefix, absl::string_view dims,
                     absl::Time at, int64_t delta) {
  CRM_RETURN_IF_ERROR(AddToCounter(batch, absl::StrCat(figure_prefix, dims), delta));
  return AddToCounter(batch, TimedKey(figure_prefix, TimeBucketOf(at), dims), delta);
}

absl::Status ScanTimedFigure(
    const kv::KvStore& store, absl::string_view figure_prefix, const Window& window,
    const std::function<void(int64_t bucket, absl::string_view dims, int64_t n)>& visit) {
  const auto [from, to] = TimedRange(figure_prefix, window);
  const size_t skip = TimedFigurePrefix(figure_prefix).size();
  absl::Status parsed;
  CRM_RETURN_IF_ERROR(store.Scan(from, to, 0, [&](absl::string_view key, absl::string_view value) {
    absl::StatusOr<int64_t> n = ParseCounter(key, value);
    int64_t bucket = 0;
    if (n.ok() && (key.size() < skip + kBucketDigits + 1 ||
                   !absl::SimpleAtoi(key.substr(skip, kBucketDigits), &bucket))) {
      n = absl::InternalError(absl::StrCat("malformed timed figure key ", absl::CHexEscape(key)));
    }
    if (!n.ok()) {
      parsed = n.status();
      return false;
    }
    visit(bucket, key.substr(skip + kBucketDigits + 1), *n);
    return true;
  }));
  return parsed;
}

absl::StatusOr<std::map<std::string, int64_t>> ReadFigure(const kv::KvStore& store,
                                                          absl::string_view figure_prefix,
                                                          const Window& window) {
  if (window.AllTime()) return ScanCounters(store, figure_prefix);
  std::map<std::string, int64_t> out;
  CRM_RETURN_IF_ERROR(ScanTimedFigure(
      store, figure_prefix, window,
      [&](int64_t, absl::string_view dims, int64_t n) { out[std::string(dims)] += n; }));
  for (auto it = out.begin(); it != out.end();) {
    it = it->second == 0 ? out.erase(it) : std::next(it);
  }
  return out;
}

int64_t NearestRank(int64_t count, int percent) { return (count * percent + 99) / 100; }

}  // namespace crm::readmodel::analytics
