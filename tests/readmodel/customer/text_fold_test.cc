#include "readmodel/customer/text_fold.h"

#include <string>

#include "gtest/gtest.h"

namespace crm::readmodel::customer {
namespace {

TEST(TextFoldTest, LowerCasesLatin) {
  EXPECT_EQ(FoldText("ACME Trading"), "acme trading");
  EXPECT_EQ(FoldText("ÉCOLE Ünited"), "école ünited");
  EXPECT_EQ(FoldText("×"), "×") << "the multiplication sign is not a letter";
}

TEST(TextFoldTest, FullWidthLatinIsHalfWidth) {
  EXPECT_EQ(FoldText("ＡＣＭＥ１２３"), "acme123");
  EXPECT_EQ(FoldText("Ａcme"), FoldText("acme"));
  EXPECT_EQ(FoldText("华为（中国）"), "华为(中国)");
}

TEST(TextFoldTest, ChineseIsKeptSoAPrefixStaysAPrefix) {
  EXPECT_EQ(FoldText("华为技术"), "华为技术");
  EXPECT_EQ(FoldText("华为技术").rfind(FoldText("华"), 0), 0u);
  EXPECT_EQ(FoldText("阿里巴巴 Group"), "阿里巴巴 group");
}

TEST(TextFoldTest, WhiteSpaceIsCollapsedAndTrimmed) {
  EXPECT_EQ(FoldText("  Acme \t\n  Ltd  "), "acme ltd");
  EXPECT_EQ(FoldText("华为\u3000技术"), "华为 技术") << "ideographic space";
  EXPECT_EQ(FoldText("   "), "");
  EXPECT_EQ(FoldText(""), "");
}

TEST(TextFoldTest, IsIdempotent) {
  for (const std::string s : {"ACME", "ＡＣＭＥ　Ｌｔｄ", "  华为 技术 ", "Ça Va",
                              "mixed ＭＩＸ 混合 ÀÉÎ", "a\xff\xfe b", "\xe4\xb8", "", "x"}) {
    EXPECT_EQ(FoldText(FoldText(s)), FoldText(s)) << s;
  }
}

TEST(TextFoldTest, MalformedBytesAreKept) {
  const std::string in = std::string("A\xff") + "B";  // "\xffB" would be one escape
  EXPECT_EQ(FoldText(in), std::string("a\xff") + "b");
  EXPECT_EQ(FoldText("\xe4\xb8"), "\xe4\xb8") << "truncated sequence";
}

}  // namespace
}  // namespace crm::readmodel::customer
