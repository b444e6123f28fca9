#include "services/interaction/timeline_text.h"

#include <string>

#include "absl/strings/match.h"
#include "crm/events/v1/envelope.pb.h"
#include "gtest/gtest.h"

namespace crm::services::interaction {
namespace {

using crm::events::v1::EventEnvelope;

TEST(TimelineTextTest, EnglishTextOfInteractions) {
  EventEnvelope e;
  auto* i = e.mutable_interaction_logged()->mutable_interaction();
  i->set_channel(crm::events::v1::PHONE);
  i->set_direction(crm::events::v1::INBOUND);
  i->set_staff_id("ann");
  i->set_summary("asked for a quote");
  EXPECT_EQ(TimelineText(e, TextLanguage::kEnglish),
            "Phone call (inbound) by ann: asked for a quote");
  i->set_outcome("sent");
  i->mutable_follow_up_due_time()->set_seconds(1'700'000'000);
  EXPECT_EQ(TimelineText(e, TextLanguage::kEnglish),
            "Phone call (inbound) by ann: asked for a quote; outcome: sent; follow-up due "
            "2023-11-14T22:13:20Z");
  EXPECT_EQ(TimelineText(e, TextLanguage::kChinese),
            "ann 电话（呼入）：asked for a quote；结果：sent；跟进期限 2023-11-14T22:13:20Z");
  e.mutable_follow_up_completed()->mutable_staff()->set_staff_id("bob");
  e.mutable_follow_up_completed()->set_note("done");
  EXPECT_EQ(TimelineText(e, TextLanguage::kEnglish), "Follow-up done by bob: done");
  EXPECT_EQ(TimelineText(e, TextLanguage::kChinese), "bob 完成跟进：done");
}

TEST(TimelineTextTest, EnglishTextOfComplaintAndProfileEvents) {
  auto text = [](const EventEnvelope& e) { return TimelineText(e, TextLanguage::kEnglish); };
  EventEnvelope e;
  e.mutable_complaint_acknowledged()->mutable_responder()->set_staff_id("ann");
  EXPECT_EQ(text(e), "Complaint acknowledged by ann");
  e.mutable_complaint_assigned()->mutable_assignee()->set_staff_id("bob");
  e.mutable_complaint_assigned()->set_previous_assignee("ann");
  EXPECT_EQ(text(e), "Complaint assigned to bob (was ann)");
  e.mutable_complaint_resolved()->set_resolution("Refunded");
  e.mutable_complaint_resolved()->set_root_cause(crm::events::v1::DELIVERY_DELAY);
  e.mutable_complaint_resolved()->mutable_resolver()->set_staff_id("bob");
  EXPECT_EQ(text(e), "Complaint resolved by bob (root cause delivery delay): Refunded");
  e.mutable_complaint_follow_up_visit_recorded()->mutable_visit()->set_csat(2);
  EXPECT_EQ(text(e), "Follow-up visit: not satisfied, CSAT 2/5");
  e.mutable_complaint_closed();
  EXPECT_EQ(text(e), "Complaint closed");
  e.mutable_complaint_reopened()->set_reason("still broken");
  EXPECT_EQ(text(e), "Complaint reopened: still broken");
  auto* esc = e.mutable_complaint_escalated();
  esc->set_level(2);
  esc->mutable_to()->set_staff_id("boss");
  esc->set_automatic(true);
  esc->set_sla_kind(crm::events::v1::RESOLUTION);
  EXPECT_EQ(text(e),
            "Complaint escalated to level 2 (to boss) automatically on a missed "
            "resolution deadline");
  e.mutable_lifecycle_stage_changed()->set_from_stage(crm::events::v1::POTENTIAL);
  e.mutable_lifecycle_stage_changed()->set_to_stage(crm::events::v1::FIRST_CONTACT);
  EXPECT_EQ(text(e), "Lifecycle stage potential -> first contact");
  e.mutable_owner_assigned()->set_owner("ann");
  EXPECT_EQ(text(e), "Owner assigned: ann");
  e.mutable_customer_profile_updated()->add_changed_paths("emails");
  e.mutable_customer_profile_updated()->add_changed_paths("region");
  EXPECT_EQ(text(e), "Profile updated: emails, region");
  e.mutable_purchase_recorded()->mutable_purchase()->set_product("Tea");
  e.mutable_purchase_recorded()->mutable_purchase()->mutable_amount()->set_currency_code("JPY");
  e.mutable_purchase_recorded()->mutable_purchase()->mutable_amount()->set_amount_minor(1500);
  EXPECT_EQ(text(e), "Purchase: Tea, JPY 1500");
  e.mutable_purchase_recorded()->mutable_purchase()->mutable_amount()->set_currency_code("KWD");
  e.mutable_purchase_recorded()->mutable_purchase()->mutable_amount()->set_amount_minor(5);
  EXPECT_EQ(text(e), "Purchase: Tea, KWD 0.005");
  e.mutable_customer_untagged()->set_tag("x");
  EXPECT_EQ(text(e), "") << "not a timeline event";

  // Long text is cut at a character boundary.
  std::string long_text;
  for (int i = 0; i < 300; ++i) long_text += "诉";
  e.mutable_complaint_reopened()->set_reason(long_text);
  const std::string cut = text(e);
  EXPECT_TRUE(absl::EndsWith(cut, "…"));
  std::string expected = "Complaint reopened: ";
  for (int i = 0; i < 200; ++i) expected += "诉";
  EXPECT_EQ(cut, expected + "…");
}

TEST(TimelineTextTest, ChineseTextOfComplaintAndProfileEvents) {
  auto text = [](const EventEnvelope& e) { return TimelineText(e, TextLanguage::kChinese); };
  EventEnvelope e;
  auto* filed = e.mutable_complaint_filed();
  filed->set_severity(crm::events::v1::SEVERE);
  filed->set_category(crm::events::v1::LOGISTICS);
  filed->set_channel(crm::events::v1::EMAIL);
  filed->set_description("包裹晚到");
  EXPECT_EQ(text(e), "投诉登记（严重，物流），渠道：电子邮件：包裹晚到");
  EXPECT_EQ(TimelineText(e, TextLanguage::kEnglish),
            "Complaint filed (severe, logistics) via e-mail: 包裹晚到");
  e.mutable_complaint_acknowledged();
  EXPECT_EQ(text(e), "无人 已响应投诉");
  e.mutable_complaint_resolved()->set_resolution("退款");
  e.mutable_complaint_resolved()->set_root_cause(crm::events::v1::DELIVERY_DELAY);
  e.mutable_complaint_resolved()->mutable_resolver()->set_staff_id("bob");
  EXPECT_EQ(text(e), "bob 已解决投诉（根因：交付延迟）：退款");
  e.mutable_complaint_follow_up_visit_recorded()->mutable_visit()->set_csat(5);
  e.mutable_complaint_follow_up_visit_recorded()->mutable_visit()->set_satisfied(true);
  EXPECT_EQ(text(e), "回访：满意，满意度 5/5");
  auto* esc = e.mutable_complaint_escalated();
  esc->set_level(2);
  esc->set_automatic(true);
  esc->set_sla_kind(crm::events::v1::RESPONSE);
  EXPECT_EQ(text(e), "投诉升级至第 2 级，因错过响应期限自动升级");
  e.mutable_complaint_sla_breached()->set_kind(crm::events::v1::RESOLUTION);
  e.mutable_complaint_sla_breached()->mutable_due_time()->set_seconds(1'700'000'000);
  EXPECT_EQ(text(e), "投诉解决期限已错过（期限 2023-11-14T22:13:20Z）");
  e.mutable_lifecycle_stage_changed()->set_from_stage(crm::events::v1::POTENTIAL);
  e.mutable_lifecycle_stage_changed()->set_to_stage(crm::events::v1::CHURNED);
  EXPECT_EQ(text(e), "生命周期阶段 潜在客户 → 流失");
  e.mutable_customer_profile_updated()->add_changed_paths("emails");
  e.mutable_customer_profile_updated()->add_changed_paths("region");
  EXPECT_EQ(text(e), "资料更新：emails、region");
  e.mutable_owner_unassigned()->set_previous_owner("ann");
  EXPECT_EQ(text(e), "负责人已清除（原为 ann）");
  e.mutable_purchase_recorded()->mutable_purchase()->set_product("茶");
  e.mutable_purchase_recorded()->mutable_purchase()->mutable_amount()->set_currency_code("CNY");
  e.mutable_purchase_recorded()->mutable_purchase()->mutable_amount()->set_amount_minor(9900);
  EXPECT_EQ(text(e), "购买：茶，CNY 99.00");
  // A value this server does not know is written as its number.
  e.mutable_lifecycle_stage_changed()->set_from_stage(
      static_cast<crm::events::v1::LifecycleStage>(42));
  e.mutable_lifecycle_stage_changed()->set_to_stage(crm::events::v1::POTENTIAL);
  EXPECT_EQ(text(e), "生命周期阶段 42 → 潜在客户");
}

TEST(TimelineTextTest, TextOfSurveys) {
  auto en = [](const EventEnvelope& e) { return TimelineText(e, TextLanguage::kEnglish); };
  auto zh = [](const EventEnvelope& e) { return TimelineText(e, TextLanguage::kChinese); };
  EventEnvelope e;
  auto* sent = e.mutable_survey_sent();
  sent->set_channel(crm::events::v1::SURVEY_CHANNEL_CALL_BACK);
  sent->mutable_staff()->set_staff_id("ann");
  sent->mutable_answer_due_time()->set_seconds(1'700'000'000);
  EXPECT_EQ(en(e), "Satisfaction survey sent by ann (call-back), answer due 2023-11-14T22:13:20Z");
  sent->set_complaint("customers/c/complaints/k1");
  EXPECT_EQ(en(e),
            "Satisfaction survey sent by ann (call-back), answer due 2023-11-14T22:13:20Z; after "
            "customers/c/complaints/k1");
  EXPECT_EQ(zh(e),
            "ann 发送满意度调查（电话回访），答复期限 2023-11-14T22:13:20Z；针对 "
            "customers/c/complaints/k1");
  sent->clear_complaint();
  sent->set_channel(static_cast<crm::events::v1::SurveyChannel>(9));  // unknown: its number
  EXPECT_EQ(en(e), "Satisfaction survey sent by ann (9), answer due 2023-11-14T22:13:20Z");

  auto* answered = e.mutable_survey_answered();
  answered->set_csat(4);
  answered->set_nps(9);
  answered->set_comment("good");
  EXPECT_EQ(en(e), "Survey answered: CSAT 4/5, NPS 9/10: good");
  EXPECT_EQ(zh(e), "调查已答复：满意度 4/5、推荐度 9/10：good");
  answered->clear_csat();
  answered->clear_comment();
  EXPECT_EQ(en(e), "Survey answered: NPS 9/10");

  e.mutable_survey_expired()->mutable_answer_due_time()->set_seconds(1'700'000'000);
  EXPECT_EQ(en(e), "Survey expired unanswered (due 2023-11-14T22:13:20Z)");
  EXPECT_EQ(zh(e), "调查过期未答复（期限 2023-11-14T22:13:20Z）");
}

TEST(TimelineTextTest, LanguageCodes) {
  EXPECT_EQ(*ParseTextLanguage("", "language_code"), TextLanguage::kEnglish);
  EXPECT_EQ(*ParseTextLanguage("en", "language_code"), TextLanguage::kEnglish);
  EXPECT_EQ(*ParseTextLanguage("en-GB", "language_code"), TextLanguage::kEnglish);
  EXPECT_EQ(*ParseTextLanguage("fr", "language_code"), TextLanguage::kEnglish);
  EXPECT_EQ(*ParseTextLanguage("zh", "language_code"), TextLanguage::kChinese);
  EXPECT_EQ(*ParseTextLanguage("zh-CN", "language_code"), TextLanguage::kChinese);
  EXPECT_EQ(*ParseTextLanguage("ZH_Hans_CN", "language_code"), TextLanguage::kChinese);
  for (const char* bad : {"-", "zh-", "1en", "en--GB", "toolongtag", "中文", "en GB"}) {
    auto parsed = ParseTextLanguage(bad, "language_code");
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(LanguageCode(TextLanguage::kEnglish), "en");
  EXPECT_EQ(LanguageCode(TextLanguage::kChinese), "zh");
}

}  // namespace
}  // namespace crm::services::interaction
