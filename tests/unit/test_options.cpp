#include <gtest/gtest.h>

#include <vector>

#include "cli/options.h"

using namespace synwhy::cli;
using std::chrono::milliseconds;

TEST(Options, Durations) {
    EXPECT_EQ(parse_duration("30"), milliseconds(30000));
    EXPECT_EQ(parse_duration("30s"), milliseconds(30000));
    EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
    EXPECT_EQ(parse_duration("2m"), milliseconds(120000));
    EXPECT_EQ(parse_duration("1h"), milliseconds(3600000));
    EXPECT_EQ(parse_duration("168h"), milliseconds(168LL * 3600000));
    for (const char* bad : {"", "-1", "1y", "s", "0", "0s", "1.5s", " 1s", "99999999999", "169h", "999999999h"})
        EXPECT_FALSE(parse_duration(bad)) << bad;
}

namespace {
int parse(std::vector<std::string> args, CaptureOptions& o) {
    args.insert(args.begin(), "synwhy");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    auto status = parse_command_line(static_cast<int>(argv.size()), argv.data(), o);
    return status ? *status : -1;
}
}  // namespace

TEST(Options, ReportDefaultsAndPorts) {
    CaptureOptions o;
    EXPECT_EQ(parse({"report", "--port", "22", "--port", "2222", "--count", "3", "--json"}, o), -1);
    EXPECT_EQ(o.mode, Mode::report);
    EXPECT_EQ(o.ports, (std::vector<uint16_t>{22, 2222}));
    EXPECT_EQ(o.count, 3u);
    EXPECT_TRUE(o.json);
    EXPECT_EQ(o.duration, milliseconds(30000));
}

TEST(Options, BadInputIsUsageError) {
    testing::internal::CaptureStderr();
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"report", "--port", "0"}, {"report", "--port", "65536"}, {"report", "--port", "ssh"},
             {"report", "--port", "22", "--port", "22"}, {"report", "--duration", "1y"}, {"report", "--duration", ""}, {"report", "--settle", "x"},
             {"report", "--count", "0"}, {"nope"}, {}, {"watch", "--bogus"},
             {"watch", "--netns", "a", "--all-netns"}}) {
        CaptureOptions o;
        EXPECT_EQ(parse(args, o), exit_usage) << (args.empty() ? "" : args[0]);
    }
    testing::internal::GetCapturedStderr();
}
