// Least privilege (what is kept after attaching) and how output files are created.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "cli/privileges.h"
#include "render/metrics.h"

using namespace synwhy;
using namespace synwhy::cli;

namespace {

bool has(const std::vector<int>& v, int c) { return std::find(v.begin(), v.end(), c) != v.end(); }

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    return {std::istreambuf_iterator<char>(f), {}};
}

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/synwhy-unit.XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST(Privileges, TracingCapabilitiesAreNeverKept) {
    for (bool legacy : {false, true})
        for (bool metrics : {false, true}) {
            auto keep = capabilities_kept_after_attach({legacy, metrics});
            EXPECT_FALSE(has(keep, cap::bpf));
            EXPECT_FALSE(has(keep, cap::perfmon));
            EXPECT_FALSE(has(keep, cap::sys_resource));
            EXPECT_FALSE(has(keep, cap::setpcap));
            // The later reads: other namespaces, rule text, other processes' /proc, kallsyms.
            for (int c : {cap::sys_admin, cap::net_admin, cap::sys_ptrace, cap::dac_read_search, cap::syslog})
                EXPECT_TRUE(has(keep, c)) << capability_name(c);
            EXPECT_EQ(has(keep, cap::net_raw), legacy);
            EXPECT_EQ(has(keep, cap::dac_override), metrics);
            EXPECT_TRUE(std::is_sorted(keep.begin(), keep.end()));
        }
}

TEST(Privileges, Names) {
    EXPECT_EQ(capability_name(cap::bpf), "CAP_BPF");
    EXPECT_EQ(capability_name(cap::net_admin), "CAP_NET_ADMIN");
    EXPECT_EQ(capability_name(cap::dac_read_search), "CAP_DAC_READ_SEARCH");
    EXPECT_EQ(capability_name(40), "CAP_CHECKPOINT_RESTORE");
    EXPECT_EQ(capability_name(41), "CAP_41");
}

TEST(OutputFiles, ReplacingASymlinkNeverWritesThroughIt) {
    TempDir dir;
    std::string victim = dir.path + "/victim", link = dir.path + "/out.pcap";
    std::ofstream(victim) << "precious";
    ASSERT_EQ(symlink(victim.c_str(), link.c_str()), 0);
    std::string error;
    int fd = create_file_replacing(link, error);
    ASSERT_GE(fd, 0) << error;
    ASSERT_EQ(write(fd, "new", 3), 3);
    close(fd);
    EXPECT_EQ(slurp(victim), "precious");
    struct stat st {};
    ASSERT_EQ(lstat(link.c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 0022, 0u);  // 0644 or tighter
    EXPECT_EQ(slurp(link), "new");
    // Nothing but the two files: the temporary was renamed, not left.
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path), {}), 2);
}

TEST(OutputFiles, AtomicReplaceKeepsModeAndLeavesNoTemporary) {
    TempDir dir;
    std::string path = dir.path + "/synwhy.prom";
    std::string error;
    ASSERT_TRUE(replace_file_atomically(path, "a 1\n", error)) << error;
    ASSERT_TRUE(replace_file_atomically(path, "a 2\n", error)) << error;
    EXPECT_EQ(slurp(path), "a 2\n");
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0022, 0u);
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path), {}), 1);
}

TEST(OutputFiles, MissingDirectoryIsOneClearError) {
    std::string error;
    EXPECT_EQ(create_file_replacing("/nonexistent-synwhy-dir/x.pcap", error), -1);
    EXPECT_NE(error.find("/nonexistent-synwhy-dir/x.pcap"), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos);
}
