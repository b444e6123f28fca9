#include "services/query/query_support.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace crm::services::query {
namespace {

// Rows "000".."099" in key order; fetch returns at most n after `after`.
struct Table {
  int fetches = 0;
  absl::StatusOr<std::pair<std::vector<std::string>, bool>> operator()(const std::string& after,
                                                                        size_t n) {
    ++fetches;
    std::vector<std::string> rows;
    int i = 0;
    for (; i < 100; ++i) {
      std::string key = (i < 10 ? "00" : "0") + std::to_string(i);
      if (key <= after && !after.empty()) continue;
      if (rows.size() == n) break;
      rows.push_back(key);
    }
    return std::make_pair(rows, i < 100);
  }
};

std::string Key(const std::string& row) { return row; }

TEST(FetchVisibleTest, EveryRowVisibleIsOneFetch) {
  Table table;
  auto page = FetchVisible<std::string>("", 10, std::ref(table), Key,
                                        [](const std::string&) { return true; });
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->rows.size(), 10u);
  EXPECT_EQ(page->last_key, "009");
  EXPECT_TRUE(page->more);
  EXPECT_EQ(table.fetches, 1);
}

TEST(FetchVisibleTest, FillsThePageAcrossFetchesAndContinuesAfterTheLastRowRead) {
  Table table;
  auto every_seventh = [](const std::string& row) { return std::stoi(row) % 7 == 0; };
  auto page = FetchVisible<std::string>("", 5, std::ref(table), Key, every_seventh);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->rows, (std::vector<std::string>{"000", "007", "014", "021", "028"}));
  EXPECT_EQ(page->last_key, "028");
  EXPECT_TRUE(page->more);
  auto next = FetchVisible<std::string>(page->last_key, 5, std::ref(table), Key, every_seventh);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->rows.front(), "035");
  // The last page ends the list.
  auto last = FetchVisible<std::string>("090", 5, std::ref(table), Key, every_seventh);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->rows, (std::vector<std::string>{"091", "098"}));
  EXPECT_FALSE(last->more);
}

TEST(FetchVisibleTest, NothingVisibleEndsWithAnEmptyLastPage) {
  Table table;
  auto page = FetchVisible<std::string>("", 10, std::ref(table), Key,
                                        [](const std::string&) { return false; });
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->rows.empty());
  EXPECT_FALSE(page->more);
}

}  // namespace
}  // namespace crm::services::query
