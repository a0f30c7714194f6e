// The name tables (KKM_Names.hpp): every value of every user-facing enum goes to its name and back,
// each name once, and the names are those the application, its files and its tests use.
#include <kkmeans/kkmeans.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

namespace {

template <class E>
void expect_round_trip() {
  auto const& table = kkm::Names<E>::table;
  std::set<std::string> names;
  std::set<int> values;
  for (auto const& [value, name] : table) {
    EXPECT_STREQ(kkm::to_string(value), name);
    auto const back = kkm::from_name<E>(name);
    ASSERT_TRUE(back.has_value()) << name;
    EXPECT_TRUE(*back == value) << name;
    EXPECT_TRUE(names.insert(name).second) << "name listed twice: " << name;
    EXPECT_TRUE(values.insert(static_cast<int>(value)).second) << "value listed twice: " << name;
  }
  auto const listed = kkm::choices<E>();
  ASSERT_EQ(listed.size(), table.size());
  for (std::size_t i = 0; i < table.size(); ++i) EXPECT_EQ(listed[i], table[i].second);
  EXPECT_FALSE(kkm::from_name<E>("").has_value());
  EXPECT_FALSE(kkm::from_name<E>("no such name").has_value());
  EXPECT_FALSE(kkm::from_name<E>(std::string(table[0].second) + " ").has_value());
}

TEST(TEST_CATEGORY, names_round_trip) {
  expect_round_trip<kkm::Init>();
  expect_round_trip<kkm::AssignPath>();
  expect_round_trip<kkm::EmptyPolicy>();
  expect_round_trip<kkm::Mode>();
  expect_round_trip<kkm::Pipeline>();
}

TEST(TEST_CATEGORY, names_are_the_documented_ones) {
  // Every value (the tables' sizes: no value left out) and the exact names files and the command line use.
  EXPECT_EQ(kkm::Names<kkm::Init>::table.size(), 5u);
  EXPECT_STREQ(kkm::to_string(kkm::Init::automatic), "auto");
  EXPECT_STREQ(kkm::to_string(kkm::Init::kmeanspp), "kmeans++");
  EXPECT_STREQ(kkm::to_string(kkm::Init::kmeans_parallel), "kmeans||");
  EXPECT_STREQ(kkm::to_string(kkm::Init::random), "random");
  EXPECT_STREQ(kkm::to_string(kkm::Init::given), "given");
  EXPECT_EQ(kkm::Names<kkm::AssignPath>::table.size(), 6u);
  EXPECT_STREQ(kkm::to_string(kkm::AssignPath::automatic), "auto");
  EXPECT_STREQ(kkm::to_string(kkm::AssignPath::fused), "fused");
  EXPECT_STREQ(kkm::to_string(kkm::AssignPath::gemm), "gemm");
  EXPECT_STREQ(kkm::to_string(kkm::AssignPath::gemm_checked), "gemm-checked");
  EXPECT_STREQ(kkm::to_string(kkm::AssignPath::fused_checked), "fused-checked");
  EXPECT_STREQ(kkm::to_string(kkm::AssignPath::gemm_tf32x3), "gemm-tf32x3");
  EXPECT_EQ(kkm::Names<kkm::EmptyPolicy>::table.size(), 4u);
  EXPECT_STREQ(kkm::to_string(kkm::EmptyPolicy::drop), "drop");
  EXPECT_STREQ(kkm::to_string(kkm::EmptyPolicy::split), "split");
  EXPECT_STREQ(kkm::to_string(kkm::EmptyPolicy::farthest), "farthest");
  EXPECT_STREQ(kkm::to_string(kkm::EmptyPolicy::keep), "keep");
  EXPECT_EQ(kkm::Names<kkm::Mode>::table.size(), 3u);
  EXPECT_STREQ(kkm::to_string(kkm::Mode::lloyd), "lloyd");
  EXPECT_STREQ(kkm::to_string(kkm::Mode::minibatch), "minibatch");
  EXPECT_STREQ(kkm::to_string(kkm::Mode::seed), "seed");
  EXPECT_EQ(kkm::Names<kkm::Pipeline>::table.size(), 3u);
  EXPECT_STREQ(kkm::to_string(kkm::Pipeline::automatic), "auto");
  EXPECT_STREQ(kkm::to_string(kkm::Pipeline::on), "on");
  EXPECT_STREQ(kkm::to_string(kkm::Pipeline::off), "off");
  EXPECT_EQ(kkm::join_names(kkm::choices<kkm::Pipeline>(), ", "), "auto, on, off");
  EXPECT_EQ(kkm::join_names(kkm::metric_names), "sqeuclidean | euclidean | cosine | manhattan | iou");
}

TEST(TEST_CATEGORY, history_columns_listed_once) {
  // The columns of /history in model files and checkpoints, and of the JSON report, in file order.
  std::string all, checkpointed;
  kkm::for_each_history_column([&](auto const& column) {
    all += std::string(all.empty() ? "" : " ") + column.name;
    if (column.checkpointed) checkpointed += std::string(checkpointed.empty() ? "" : " ") + column.name;
  });
  EXPECT_EQ(all, "epoch inertia shift changed empty relocated k seconds assign_seconds allreduce_seconds");
  EXPECT_EQ(checkpointed, "epoch inertia shift changed empty relocated k seconds");
  kkm::EpochStats e;
  e.changed = (std::int64_t(1) << 40) + 3;
  e.seconds_allreduce = 0.25;
  std::int64_t changed = 0;
  double allreduce = 0;
  kkm::for_each_history_column([&](auto const& column) {
    if (std::string(column.name) == "changed") changed = static_cast<std::int64_t>(e.*column.member);
    if (std::string(column.name) == "allreduce_seconds") allreduce = static_cast<double>(e.*column.member);
  });
  EXPECT_EQ(changed, (std::int64_t(1) << 40) + 3);
  EXPECT_EQ(allreduce, 0.25);
}

}  // namespace
