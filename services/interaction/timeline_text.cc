#include "services/interaction/timeline_text.h"

#include <array>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/substitute.h"
#include "common/status/errors.h"
#include "google/protobuf/util/time_util.h"

namespace crm::services::interaction {
namespace {

namespace ev = crm::events::v1;
using crm::events::v1::EventEnvelope;
using google::protobuf::util::TimeUtil;

// Longest free text quoted in a text, in code points.
constexpr size_t kMaxQuoted = 200;

// `text` cut to at most `max` code points (at a code point boundary), with "…" if cut.
std::string Quote(const std::string& text, size_t max = kMaxQuoted) {
  size_t points = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (points == max) return absl::StrCat(text.substr(0, i), "…");
      ++points;
    }
  }
  return text;
}

// The words of one language: sentence templates (absl::Substitute, $0...) and the names of enum
// values, indexed by value (index 0, the unspecified value, unused). A value a table does not
// have is written as its English words, which come from the enum's own name.
struct Phrases {
  const char* interaction;     // channel, direction, staff, summary
  const char* outcome;         // outcome
  const char* follow_up_due;   // time
  const char* follow_up_done;  // staff
  const char* note;            // note (after a sentence)
  const char* filed;           // severity, category, channel, description
  const char* acknowledged;    // staff
  const char* assigned;        // staff
  const char* was;             // previous staff
  const char* investigation;   // staff
  const char* resolved;        // staff, root cause, resolution
  const char* visit;           // satisfied or not, csat
  const char* satisfied;
  const char* not_satisfied;
  const char* closed;
  const char* reopened;
  const char* escalated;        // level
  const char* escalated_to;     // staff
  const char* automatic;        // sla kind
  const char* breached;         // sla kind, due time
  const char* registered;       // display name, stage
  const char* profile_updated;  // changed paths
  const char* path_separator;
  const char* stage_changed;           // from, to
  const char* owner_assigned;          // owner
  const char* owner_cleared;           // previous owner
  const char* merged;                  // merged customer (MergeCustomers, on the survivor)
  const char* merged_into;             // survivor (on the merged customer)
  const char* archived;                // (ArchiveCustomer; the reason follows as a note)
  const char* unarchived;              // (UnarchiveCustomer)
  const char* survey_sent;             // channel, staff, answer due time
  const char* survey_answered;         // scores
  const char* survey_csat;             // csat (a score)
  const char* survey_nps;              // nps (a score)
  const char* survey_expired;          // answer due time
  const char* survey_after_complaint;  // complaint (after survey_sent)
  std::array<const char*, 4> survey_channels;
  const char* purchase;  // product, amount
  const char* refund;    // product, amount refunded, purchase id (the reason follows as a note)
  const char* nobody;
  std::array<const char*, 8> channels;         // Channel, capitalised where it starts a line
  std::array<const char*, 8> channels_inline;  // Channel within a sentence
  std::array<const char*, 3> directions;
  std::array<const char*, 4> severities;
  std::array<const char*, 6> categories;
  std::array<const char*, 9> root_causes;
  std::array<const char*, 3> sla_kinds;
  std::array<const char*, 8> stages;
};

constexpr Phrases kEnglish = {
    "$0 ($1) by $2: $3",
    "; outcome: $0",
    "; follow-up due $0",
    "Follow-up done by $0",
    ": $0",
    "Complaint filed ($0, $1) via $2: $3",
    "Complaint acknowledged by $0",
    "Complaint assigned to $0",
    " (was $0)",
    "Investigation started by $0",
    "Complaint resolved by $0 (root cause $1): $2",
    "Follow-up visit: $0, CSAT $1/5",
    "satisfied",
    "not satisfied",
    "Complaint closed",
    "Complaint reopened",
    "Complaint escalated to level $0",
    " (to $0)",
    " automatically on a missed $0 deadline",
    "Complaint $0 deadline missed (due $1)",
    "Customer registered: $0 ($1)",
    "Profile updated: $0",
    ", ",
    "Lifecycle stage $0 -> $1",
    "Owner assigned: $0",
    "Owner cleared (was $0)",
    "Merged $0 into this customer",
    "Merged into $0",
    "Archived",
    "Unarchived",
    "Satisfaction survey sent by $1 ($0), answer due $2",
    "Survey answered: $0",
    "CSAT $0/5",
    "NPS $0/10",
    "Survey expired unanswered (due $0)",
    "; after $0",
    {"", "call-back", "e-mail", "questionnaire"},
    "Purchase: $0, $1",
    "Refund of purchase $2 ($0): $1",
    "nobody",
    {"", "Phone call", "E-mail", "Online chat", "Social media", "Visit or meeting", "SMS",
     "Offline event"},
    {"", "phone call", "e-mail", "online chat", "social media", "visit or meeting", "sms",
     "offline event"},
    {},  // directions, severities, ...: the enum names' words
    {},
    {},
    {},
    {},
    {},
};

constexpr Phrases kChinese = {
    "$2 $0（$1）：$3",
    "；结果：$0",
    "；跟进期限 $0",
    "$0 完成跟进",
    "：$0",
    "投诉登记（$0，$1），渠道：$2：$3",
    "$0 已响应投诉",
    "投诉分配给 $0",
    "（原为 $0）",
    "$0 开始调查",
    "$0 已解决投诉（根因：$1）：$2",
    "回访：$0，满意度 $1/5",
    "满意",
    "不满意",
    "投诉已关闭",
    "投诉重新打开",
    "投诉升级至第 $0 级",
    "（至 $0）",
    "，因错过$0期限自动升级",
    "投诉$0期限已错过（期限 $1）",
    "客户登记：$0（$1）",
    "资料更新：$0",
    "、",
    "生命周期阶段 $0 → $1",
    "负责人：$0",
    "负责人已清除（原为 $0）",
    "已将 $0 合并到本客户",
    "已合并到 $0",
    "已归档",
    "已取消归档",
    "$1 发送满意度调查（$0），答复期限 $2",
    "调查已答复：$0",
    "满意度 $0/5",
    "推荐度 $0/10",
    "调查过期未答复（期限 $0）",
    "；针对 $0",
    {"", "电话回访", "电子邮件", "问卷"},
    "购买：$0，$1",
    "退款（购买 $2，$0）：$1",
    "无人",
    {"", "电话", "电子邮件", "在线聊天", "社交媒体", "拜访或会面", "短信", "线下活动"},
    {"", "电话", "电子邮件", "在线聊天", "社交媒体", "拜访或会面", "短信", "线下活动"},
    {"", "呼入", "呼出"},
    {"", "轻微", "一般", "严重"},
    {"", "产品质量", "服务态度", "物流", "账单", "其他"},
    {"", "产品缺陷", "流程缺陷", "员工行为", "交付延迟", "账单错误", "客户误解", "第三方", "其他"},
    {"", "响应", "解决"},
    {"", "潜在客户", "初次接触", "需求确认", "购买决策", "售后服务", "客户忠诚", "流失"},
};

const Phrases& PhrasesOf(TextLanguage language) {
  return language == TextLanguage::kChinese ? kChinese : kEnglish;
}

// The table's word for `value`, else the enum name in lower case words ("PRODUCT_QUALITY" ->
// "product quality"), else the number.
template <size_t N>
std::string Word(const std::array<const char*, N>& table, int value, const std::string& name) {
  if (value > 0 && static_cast<size_t>(value) < N && table[value] != nullptr) return table[value];
  if (name.empty()) return absl::StrCat(value);
  return absl::AsciiStrToLower(absl::StrReplaceAll(name, {{"_", " "}}));
}

std::string ChannelWord(const Phrases& p, ev::Channel channel, bool inline_word) {
  const auto& table = inline_word ? p.channels_inline : p.channels;
  const int value = static_cast<int>(channel);
  if (value > 0 && static_cast<size_t>(value) < table.size()) return table[value];
  return absl::StrCat("Channel ", value);
}

std::string Staff(const Phrases& p, const ev::StaffRef& ref) {
  return ref.staff_id().empty() ? p.nobody : ref.staff_id();
}

// Minor units as a decimal amount: 0 decimals for the ISO 4217 currencies without minor unit
// in common use, 3 for those with three, else 2.
std::string MoneyText(const ev::Money& money) {
  static const char* const kZero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
                                      "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"};
  static const char* const kThree[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};
  int decimals = 2;
  for (const char* c : kZero) {
    if (money.currency_code() == c) decimals = 0;
  }
  for (const char* c : kThree) {
    if (money.currency_code() == c) decimals = 3;
  }
  const int64_t minor = money.amount_minor();
  const bool negative = minor < 0;
  // Digits of |minor| (as unsigned so that INT64_MIN is fine).
  const uint64_t magnitude =
      negative ? static_cast<uint64_t>(0) - static_cast<uint64_t>(minor) : minor;
  uint64_t scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  std::string text =
      absl::StrCat(money.currency_code(), " ", negative ? "-" : "", magnitude / scale);
  if (decimals > 0) absl::StrAppend(&text, absl::StrFormat(".%0*d", decimals, magnitude % scale));
  return text;
}

// `text` followed by `template_` filled with `value` when `value` is not empty.
void AppendIf(std::string& text, const char* template_, const std::string& value) {
  if (!value.empty()) absl::StrAppend(&text, absl::Substitute(template_, value));
}

std::string Interaction(const Phrases& p, const EventEnvelope& event) {
  const ev::LoggedInteraction& i = event.interaction_logged().interaction();
  std::string text =
      absl::Substitute(p.interaction, ChannelWord(p, i.channel(), false),
                       Word(p.directions, i.direction(), ev::Direction_Name(i.direction())),
                       i.staff_id(), Quote(i.summary()));
  if (!i.outcome().empty()) AppendIf(text, p.outcome, Quote(i.outcome()));
  if (i.has_follow_up_due_time()) {
    AppendIf(text, p.follow_up_due, TimeUtil::ToString(i.follow_up_due_time()));
  }
  return text;
}

std::string FollowUp(const Phrases& p, const EventEnvelope& event) {
  const auto& completed = event.follow_up_completed();
  std::string text = absl::Substitute(p.follow_up_done, Staff(p, completed.staff()));
  if (!completed.note().empty()) AppendIf(text, p.note, Quote(completed.note()));
  return text;
}

std::string Complaint(const Phrases& p, const EventEnvelope& event) {
  switch (event.payload_case()) {
    case EventEnvelope::kComplaintFiled: {
      const auto& filed = event.complaint_filed();
      return absl::Substitute(
          p.filed,
          Word(p.severities, filed.severity(), ev::ComplaintSeverity_Name(filed.severity())),
          Word(p.categories, filed.category(), ev::ComplaintCategory_Name(filed.category())),
          ChannelWord(p, filed.channel(), true), Quote(filed.description()));
    }
    case EventEnvelope::kComplaintAcknowledged:
      return absl::Substitute(p.acknowledged, Staff(p, event.complaint_acknowledged().responder()));
    case EventEnvelope::kComplaintAssigned: {
      const auto& assigned = event.complaint_assigned();
      std::string text = absl::Substitute(p.assigned, Staff(p, assigned.assignee()));
      AppendIf(text, p.was, assigned.previous_assignee());
      return text;
    }
    case EventEnvelope::kComplaintInvestigationStarted:
      return absl::Substitute(p.investigation,
                              Staff(p, event.complaint_investigation_started().assignee()));
    case EventEnvelope::kComplaintResolved: {
      const auto& resolved = event.complaint_resolved();
      return absl::Substitute(
          p.resolved, Staff(p, resolved.resolver()),
          Word(p.root_causes, resolved.root_cause(), ev::RootCause_Name(resolved.root_cause())),
          Quote(resolved.resolution()));
    }
    case EventEnvelope::kComplaintFollowUpVisitRecorded: {
      const auto& visit = event.complaint_follow_up_visit_recorded().visit();
      std::string text = absl::Substitute(
          p.visit, visit.satisfied() ? p.satisfied : p.not_satisfied, visit.csat());
      if (!visit.comment().empty()) AppendIf(text, p.note, Quote(visit.comment()));
      return text;
    }
    case EventEnvelope::kComplaintClosed:
      return p.closed;
    case EventEnvelope::kComplaintReopened: {
      std::string text = p.reopened;
      const std::string& reason = event.complaint_reopened().reason();
      if (!reason.empty()) AppendIf(text, p.note, Quote(reason));
      return text;
    }
    case EventEnvelope::kComplaintEscalated: {
      const auto& escalated = event.complaint_escalated();
      std::string text = absl::Substitute(p.escalated, escalated.level());
      AppendIf(text, p.escalated_to, escalated.to().staff_id());
      if (escalated.automatic()) {
        AppendIf(text, p.automatic,
                 Word(p.sla_kinds, escalated.sla_kind(), ev::SlaKind_Name(escalated.sla_kind())));
      }
      if (!escalated.reason().empty()) AppendIf(text, p.note, Quote(escalated.reason()));
      return text;
    }
    case EventEnvelope::kComplaintSlaBreached: {
      const auto& breached = event.complaint_sla_breached();
      return absl::Substitute(p.breached,
                              Word(p.sla_kinds, breached.kind(), ev::SlaKind_Name(breached.kind())),
                              TimeUtil::ToString(breached.due_time()));
    }
    default:
      return "";
  }
}

std::string Stage(const Phrases& p, ev::LifecycleStage stage) {
  return Word(p.stages, stage, ev::LifecycleStage_Name(stage));
}

std::string Profile(const Phrases& p, const EventEnvelope& event) {
  switch (event.payload_case()) {
    case EventEnvelope::kCustomerRegistered: {
      const auto& registered = event.customer_registered();
      return absl::Substitute(p.registered, Quote(registered.profile().display_name()),
                              Stage(p, registered.lifecycle_stage()));
    }
    case EventEnvelope::kCustomerProfileUpdated:
      return absl::Substitute(
          p.profile_updated,
          absl::StrJoin(event.customer_profile_updated().changed_paths(), p.path_separator));
    case EventEnvelope::kLifecycleStageChanged: {
      const auto& changed = event.lifecycle_stage_changed();
      std::string text = absl::Substitute(p.stage_changed, Stage(p, changed.from_stage()),
                                          Stage(p, changed.to_stage()));
      if (!changed.reason().empty()) AppendIf(text, p.note, Quote(changed.reason()));
      return text;
    }
    case EventEnvelope::kOwnerAssigned: {
      const auto& assigned = event.owner_assigned();
      std::string text = absl::Substitute(p.owner_assigned, assigned.owner());
      AppendIf(text, p.was, assigned.previous_owner());
      return text;
    }
    case EventEnvelope::kOwnerUnassigned: {
      const auto& cleared = event.owner_unassigned();
      std::string text = absl::Substitute(p.owner_cleared, cleared.previous_owner());
      if (!cleared.reason().empty()) AppendIf(text, p.note, Quote(cleared.reason()));
      return text;
    }
    case EventEnvelope::kCustomerMerged:
      return absl::Substitute(
          p.merged, absl::StrCat("customers/", event.customer_merged().merged_customer_id()));
    case EventEnvelope::kCustomerMergedInto:
      return absl::Substitute(
          p.merged_into, absl::StrCat("customers/", event.customer_merged_into().survivor_id()));
    case EventEnvelope::kCustomerArchived: {
      std::string text = p.archived;
      if (!event.customer_archived().reason().empty()) {
        AppendIf(text, p.note, Quote(event.customer_archived().reason()));
      }
      return text;
    }
    case EventEnvelope::kCustomerUnarchived: {
      std::string text = p.unarchived;
      if (!event.customer_unarchived().reason().empty()) {
        AppendIf(text, p.note, Quote(event.customer_unarchived().reason()));
      }
      return text;
    }
    default:
      return "";
  }
}

std::string Purchase(const Phrases& p, const EventEnvelope& event) {
  if (event.has_purchase_refunded()) {
    const auto& refunded = event.purchase_refunded();
    std::string text =
        absl::Substitute(p.refund, Quote(refunded.purchase().product()),
                         MoneyText(refunded.amount()), refunded.purchase().purchase_id());
    if (!refunded.reason().empty()) AppendIf(text, p.note, Quote(refunded.reason()));
    return text;
  }
  const ev::Purchase& purchase = event.purchase_recorded().purchase();
  return absl::Substitute(p.purchase, Quote(purchase.product()), MoneyText(purchase.amount()));
}

std::string Survey(const Phrases& p, const EventEnvelope& event) {
  switch (event.payload_case()) {
    case EventEnvelope::kSurveySent: {
      const auto& sent = event.survey_sent();
      const std::string name = ev::SurveyChannel_Name(sent.channel());
      absl::string_view channel = name;
      absl::ConsumePrefix(&channel, "SURVEY_CHANNEL_");
      std::string text = absl::Substitute(
          p.survey_sent, Word(p.survey_channels, sent.channel(), std::string(channel)),
          Staff(p, sent.staff()), TimeUtil::ToString(sent.answer_due_time()));
      AppendIf(text, p.survey_after_complaint, sent.complaint());
      return text;
    }
    case EventEnvelope::kSurveyAnswered: {
      const auto& answered = event.survey_answered();
      std::vector<std::string> scores;
      if (answered.has_csat()) scores.push_back(absl::Substitute(p.survey_csat, answered.csat()));
      if (answered.has_nps()) scores.push_back(absl::Substitute(p.survey_nps, answered.nps()));
      std::string text =
          absl::Substitute(p.survey_answered, absl::StrJoin(scores, p.path_separator));
      if (!answered.comment().empty()) AppendIf(text, p.note, Quote(answered.comment()));
      return text;
    }
    case EventEnvelope::kSurveyExpired:
      return absl::Substitute(p.survey_expired,
                              TimeUtil::ToString(event.survey_expired().answer_due_time()));
    default:
      return "";
  }
}

bool IsTagSubtag(absl::string_view s, bool letters_only) {
  if (s.empty() || s.size() > 8) return false;
  for (char c : s) {
    if (!(absl::ascii_isalpha(c) || (!letters_only && absl::ascii_isdigit(c)))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<TextLanguage> ParseTextLanguage(absl::string_view code, absl::string_view field) {
  if (code.empty()) return TextLanguage::kEnglish;
  const std::vector<absl::string_view> subtags = absl::StrSplit(code, absl::ByAnyChar("-_"));
  for (size_t i = 0; i < subtags.size(); ++i) {
    if (!IsTagSubtag(subtags[i], i == 0)) {
      return status::InvalidArgument(field,
                                     "is not a BCP 47 language tag (e.g. \"en\", \"zh-CN\")");
    }
  }
  if (absl::AsciiStrToLower(subtags[0]) == "zh") return TextLanguage::kChinese;
  return TextLanguage::kEnglish;
}

absl::string_view LanguageCode(TextLanguage language) {
  return language == TextLanguage::kChinese ? "zh" : "en";
}

std::string TimelineText(const EventEnvelope& event, TextLanguage language) {
  const Phrases& p = PhrasesOf(language);
  switch (event.payload_case()) {
    case EventEnvelope::kInteractionLogged:
      return Interaction(p, event);
    case EventEnvelope::kFollowUpCompleted:
      return FollowUp(p, event);
    case EventEnvelope::kCustomerRegistered:
    case EventEnvelope::kCustomerProfileUpdated:
    case EventEnvelope::kLifecycleStageChanged:
    case EventEnvelope::kOwnerAssigned:
    case EventEnvelope::kOwnerUnassigned:
    case EventEnvelope::kCustomerMerged:
    case EventEnvelope::kCustomerMergedInto:
    case EventEnvelope::kCustomerArchived:
    case EventEnvelope::kCustomerUnarchived:
      return Profile(p, event);
    case EventEnvelope::kPurchaseRecorded:
    case EventEnvelope::kPurchaseRefunded:
      return Purchase(p, event);
    case EventEnvelope::kSurveySent:
    case EventEnvelope::kSurveyAnswered:
    case EventEnvelope::kSurveyExpired:
      return Survey(p, event);
    default:
      return Complaint(p, event);
  }
}

}  // namespace crm::services::interaction
