#include "common/kv/kv_store.h"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace crm::kv {
namespace {

// A fresh directory per test, removed afterwards.
class KvStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("kv_store_test_", info->name(), "_", ::getpid());
    std::filesystem::remove_all(dir_);
    auto store = KvStore::Open(dir_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Put(absl::string_view key, absl::string_view value) {
    KvBatch batch = store_->NewBatch();
    batch.Put(key, value);
    ASSERT_TRUE(store_->Write(batch).ok());
  }

  std::vector<std::pair<std::string, std::string>> ScanAll(absl::string_view start,
                                                           absl::string_view end, size_t limit) {
    std::vector<std::pair<std::string, std::string>> out;
    absl::Status s = store_->Scan(start, end, limit, [&](absl::string_view k, absl::string_view v) {
      out.emplace_back(std::string(k), std::string(v));
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  std::vector<std::string> PrefixKeys(absl::string_view prefix, absl::string_view start_after,
                                      size_t limit) {
    std::vector<std::string> out;
    absl::Status s =
        store_->ScanPrefix(prefix, start_after, limit, [&](absl::string_view k, absl::string_view) {
          out.emplace_back(k);
          return true;
        });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<KvStore> store_;
};

using Entries = std::vector<std::pair<std::string, std::string>>;

TEST_F(KvStoreTest, GetMissingIsNullopt) {
  auto v = store_->Get("nope");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());
}

TEST_F(KvStoreTest, BatchReadsThroughPendingWrites) {
  Put("a", "stored");
  Put("b", "stored-b");
  KvBatch batch = store_->NewBatch();
  batch.Put("a", "pending");
  batch.Delete("b");
  batch.Put("c", "new");
  batch.Put("c", "newer");
  EXPECT_EQ(batch.Count(), 4u);

  EXPECT_EQ(**batch.Get("a"), "pending");
  EXPECT_FALSE(batch.Get("b")->has_value());
  EXPECT_EQ(**batch.Get("c"), "newer");
  // The store is untouched until Write.
  EXPECT_EQ(**store_->Get("a"), "stored");
  EXPECT_EQ(**store_->Get("b"), "stored-b");
  EXPECT_FALSE(store_->Get("c")->has_value());

  ASSERT_TRUE(store_->Write(batch, /*sync=*/true).ok());
  EXPECT_EQ(**store_->Get("a"), "pending");
  EXPECT_FALSE(store_->Get("b")->has_value());
  EXPECT_EQ(**store_->Get("c"), "newer");
}

TEST_F(KvStoreTest, BatchKeepsTheLastWriteOfEachKey) {
  Put("d", "stored-d");
  Put("e", "stored-e");
  KvBatch batch = store_->NewBatch();
  batch.Delete("d");
  batch.Put("d", "back");  // a delete, then a put: the put wins
  batch.Put("e", "changed");
  batch.Delete("e");  // a put, then a delete: the delete wins
  EXPECT_EQ(**batch.Get("d"), "back");
  EXPECT_FALSE(batch.Get("e")->has_value());
  ASSERT_TRUE(store_->Write(batch).ok());
  EXPECT_EQ(**store_->Get("d"), "back");
  EXPECT_FALSE(store_->Get("e")->has_value());
}

TEST_F(KvStoreTest, DeletePrefixKeepsOtherKeysAndTheException) {
  for (const char* k : {"a", "p/1", "p/2", "p/x/1", "p/x/2", "p/y", "q"}) Put(k, "v");
  ASSERT_TRUE(store_->DeletePrefix("p/", "p/x/").ok());
  EXPECT_EQ(PrefixKeys("", "", 0), (std::vector<std::string>{"a", "p/x/1", "p/x/2", "q"}));
  // No upper bound (the empty prefix): everything but the exception, up to the last key.
  Put("\xff\xff", "v");
  ASSERT_TRUE(store_->DeletePrefix("", "p/").ok());
  EXPECT_EQ(PrefixKeys("", "", 0), (std::vector<std::string>{"p/x/1", "p/x/2"}));
  ASSERT_TRUE(store_->DeletePrefix("").ok());
  EXPECT_TRUE(PrefixKeys("", "", 0).empty());
  ASSERT_TRUE(store_->DeletePrefix("nothing/").ok());
}

TEST_F(KvStoreTest, BatchGetFallsBackToStore) {
  Put("x", "1");
  KvBatch batch = store_->NewBatch();
  EXPECT_EQ(**batch.Get("x"), "1");
  EXPECT_FALSE(batch.Get("y")->has_value());
}

TEST_F(KvStoreTest, BatchIsMovable) {
  KvBatch a = store_->NewBatch();
  a.Put("k", "v");
  KvBatch b = std::move(a);
  EXPECT_EQ(b.Count(), 1u);
  ASSERT_TRUE(store_->Write(b).ok());
  EXPECT_EQ(**store_->Get("k"), "v");
}

TEST_F(KvStoreTest, ScanIsOrderedAndBounded) {
  for (const char* k : {"d", "b", "a", "c", "e"}) Put(k, absl::StrCat("v", k));
  EXPECT_EQ(ScanAll("", "", 0),
            (Entries{{"a", "va"}, {"b", "vb"}, {"c", "vc"}, {"d", "vd"}, {"e", "ve"}}));
  EXPECT_EQ(ScanAll("b", "d", 0), (Entries{{"b", "vb"}, {"c", "vc"}}));
  EXPECT_EQ(ScanAll("b", "", 2), (Entries{{"b", "vb"}, {"c", "vc"}}));
  EXPECT_EQ(ScanAll("f", "", 0), Entries{});
}

TEST_F(KvStoreTest, ScanStopsWhenCallbackReturnsFalse) {
  for (const char* k : {"a", "b", "c"}) Put(k, "v");
  std::vector<std::string> seen;
  ASSERT_TRUE(store_
                  ->Scan("", "", 0,
                         [&](absl::string_view k, absl::string_view) {
                           seen.emplace_back(k);
                           return seen.size() < 2;
                         })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
}

TEST_F(KvStoreTest, ScanPrefixHonoursPrefixStartAfterAndLimit) {
  for (const char* k : {"cust/1", "cust/2", "cust/3", "cusu", "cus", "order/1"}) Put(k, "v");
  EXPECT_EQ(PrefixKeys("cust/", "", 0), (std::vector<std::string>{"cust/1", "cust/2", "cust/3"}));
  EXPECT_EQ(PrefixKeys("cust/", "cust/1", 0), (std::vector<std::string>{"cust/2", "cust/3"}));
  EXPECT_EQ(PrefixKeys("cust/", "", 2), (std::vector<std::string>{"cust/1", "cust/2"}));
  EXPECT_EQ(PrefixKeys("cust/", "cust/3", 0), std::vector<std::string>{});
  // A start_after before the prefix starts at the prefix.
  EXPECT_EQ(PrefixKeys("cust/", "a", 1), (std::vector<std::string>{"cust/1"}));
}

TEST_F(KvStoreTest, ScanPrefixWithHighBytes) {
  const std::string p("\x01\xff", 2);
  Put(p + "a", "v");
  Put(p + "b", "v");
  Put(std::string("\x02", 1), "v");
  EXPECT_EQ(PrefixKeys(p, "", 0), (std::vector<std::string>{p + "a", p + "b"}));
}

TEST_F(KvStoreTest, SurvivesReopen) {
  Put("durable", "yes");
  store_.reset();
  auto reopened = KvStore::Open(dir_.string());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  store_ = *std::move(reopened);
  EXPECT_EQ(**store_->Get("durable"), "yes");
}

TEST_F(KvStoreTest, SecondOpenOfSameDirIsUnavailable) {
  auto second = KvStore::Open(dir_.string());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
}

TEST_F(KvStoreTest, OpenMissingWithoutCreateFails) {
  auto missing = KvStore::Open((dir_ / "missing").string(), KvOptions{.create_if_missing = false});
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(KvStore::Open("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(KvStoreTest, DestroyRemovesData) {
  Put("k", "v");
  store_.reset();
  ASSERT_TRUE(KvStore::Destroy(dir_.string()).ok());
  auto reopened = KvStore::Open(dir_.string());
  ASSERT_TRUE(reopened.ok());
  store_ = *std::move(reopened);
  EXPECT_FALSE(store_->Get("k")->has_value());
}

}  // namespace
}  // namespace crm::kv
