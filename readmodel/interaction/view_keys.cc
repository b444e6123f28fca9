#include "readmodel/interaction/view_keys.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crm::readmodel::interaction {
namespace {

constexpr absl::string_view kSep("\0", 1);
// google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
constexpr int64_t kMinSeconds = -62'135'596'800;
constexpr int64_t kMaxSeconds = 253'402'300'799;
constexpr int64_t kSpanSeconds = kMaxSeconds - kMinSeconds;  // 12 digits
constexpr int32_t kMaxNanos = 999'999'999;

void Parts(const google::protobuf::Timestamp& time, int64_t* seconds, int32_t* nanos) {
  *seconds = std::clamp<int64_t>(time.seconds(), kMinSeconds, kMaxSeconds) - kMinSeconds;
  *nanos = std::clamp<int32_t>(time.nanos(), 0, kMaxNanos);
}

}  // namespace

std::string AscendingTime(const google::protobuf::Timestamp& time) {
  int64_t seconds;
  int32_t nanos;
  Parts(time, &seconds, &nanos);
  return absl::StrFormat("%012d%09d", seconds, nanos);
}

std::string DescendingTime(const google::protobuf::Timestamp& time) {
  int64_t seconds;
  int32_t nanos;
  Parts(time, &seconds, &nanos);
  return absl::StrFormat("%012d%09d", kSpanSeconds - seconds, kMaxNanos - nanos);
}

std::string InteractionKey(absl::string_view interaction_name) {
  return absl::StrCat(kViewsPrefix, "i/", interaction_name);
}

std::string CustomerInteractionsPrefix(absl::string_view customer_id) {
  return absl::StrCat(kViewsPrefix, "c/", customer_id, kSep);
}

std::string CustomerInteractionKey(absl::string_view customer_id,
                                   const google::protobuf::Timestamp& occurred_at,
                                   absl::string_view interaction_id) {
  return absl::StrCat(CustomerInteractionsPrefix(customer_id), DescendingTime(occurred_at), kSep,
                      interaction_id);
}

std::string TimelinePrefix(absl::string_view customer_id) {
  return absl::StrCat(kViewsPrefix, "t/", customer_id, kSep);
}

std::string TimelineKey(absl::string_view customer_id, const google::protobuf::Timestamp& time,
                        absl::string_view event_id) {
  return absl::StrCat(TimelinePrefix(customer_id), DescendingTime(time), kSep, event_id);
}

std::string FollowUpPrefix(absl::string_view staff_id) {
  return absl::StrCat(kViewsPrefix, "f/", staff_id, kSep);
}

std::string FollowUpKey(absl::string_view staff_id, const google::protobuf::Timestamp& due_time,
                        absl::string_view interaction_name) {
  return absl::StrCat(FollowUpPrefix(staff_id), AscendingTime(due_time), kSep, interaction_name);
}

absl::string_view LastPart(absl::string_view key) {
  const size_t at = key.rfind('\0');
  return at == absl::string_view::npos ? key : key.substr(at + 1);
}

}  // namespace crm::readmodel::interaction
