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
             {"watch", "--netns", "a", "--all-netns"}, {"report", "--port", "22-25"}, {"report", "--port", "22,23"},
             {"report", "--port", "0x16"}, {"report", "--port", " 22"}, {"report", "--port", "+22"}, {"report", "--port", ""},
             {"report", "--port", "22", "--port", "022"}, {"report", "--count", "-1"}, {"report", "--count", "1.5"},
             {"report", "--count", "99999999999999999999"}, {"report", "--count", "100000001"}, {"report", "--netns", ""},
             {"report", "--hostname", ""}, {"report", "--ready-file", ""}, {"watch", "--pcap", ""},
             {"watch", "--metrics-file", ""}, {"watch", "--count", "1"}, {"report", "--metrics-file", "x"},
             {"doctor", "--port", "22"}, {"report", "--no-bpf", "--all-netns"}, {"doctor", "--no-bpf"}}) {
        CaptureOptions o;
        EXPECT_EQ(parse(args, o), exit_usage) << (args.empty() ? "" : args[0]);
    }
    testing::internal::GetCapturedStderr();
}

TEST(Options, WholeNumbers) {
    EXPECT_EQ(parse_whole_number("22", 1, 65535), 22u);
    EXPECT_EQ(parse_whole_number("65535", 1, 65535), 65535u);
    EXPECT_EQ(parse_whole_number("0022", 1, 65535), 22u);
    for (const char* bad : {"", "0", "65536", "-1", "+1", " 1", "1 ", "0x16", "1e3", "1.0", "ssh", "9999999999999999999999"})
        EXPECT_FALSE(parse_whole_number(bad, 1, 65535)) << bad;
}

TEST(Options, PortsKeepTheirOrder) {
    CaptureOptions o;
    EXPECT_EQ(parse({"watch", "-p", "2222", "--port", "22"}, o), -1);
    EXPECT_EQ(o.ports, (std::vector<uint16_t>{2222, 22}));
    EXPECT_EQ(o.mode, Mode::watch);
}

TEST(Options, NoBpfForReportAndWatch) {
    for (const char* mode : {"report", "watch"}) {
        CaptureOptions o;
        EXPECT_EQ(parse({mode, "--no-bpf", "--netns", "srv"}, o), -1) << mode;
        EXPECT_TRUE(o.no_bpf);
    }
    CaptureOptions o;
    EXPECT_EQ(parse({"report"}, o), -1);
    EXPECT_FALSE(o.no_bpf);
}
