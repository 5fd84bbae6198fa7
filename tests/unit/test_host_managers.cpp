// sshd's missing privilege separation directory, listener owners' cmdline and unit, firewall
// managers, fail2ban's answers and tc/XDP netlink messages, and that a container's programs are
// never run. The private-namespace runner needs root (CAP_SYS_ADMIN) and is skipped without it.
#include <gtest/gtest.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/rtnetlink.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include "host/exec.h"
#include "host/snapshot.h"

using namespace synwhy;
using namespace synwhy::host;
using namespace std::chrono_literals;

namespace {

bool path_exists(const std::string& path) {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0;
}

uint64_t utc_epoch(int year, int month, int day, int hour, int minute, int second) {
    struct tm t {};
    t.tm_year = year - 1900, t.tm_mon = month - 1, t.tm_mday = day;
    t.tm_hour = hour, t.tm_min = minute, t.tm_sec = second;
    return uint64_t(timegm(&t));
}

}  // namespace

// --- sshd's privilege separation directory.

TEST(PrivsepDir, RecognisedOnlyWhenThatIsTheError) {
    EXPECT_EQ(missing_privsep_dir("Missing privilege separation directory: /run/sshd"), "/run/sshd");
    EXPECT_EQ(missing_privsep_dir("Missing privilege separation directory: /var/run/sshd\r\n"), "/var/run/sshd");
    EXPECT_EQ(missing_privsep_dir("Missing privilege separation directory: /var/empty"), "/var/empty");
    // A real config error, a different message, or an odd path: not this case.
    EXPECT_EQ(missing_privsep_dir("/etc/ssh/sshd_config line 3: Bad configuration option: Prot"), "");
    EXPECT_EQ(missing_privsep_dir("sshd: no hostkeys available -- exiting."), "");
    EXPECT_EQ(missing_privsep_dir(""), "");
    EXPECT_EQ(missing_privsep_dir("Missing privilege separation directory: "), "");
    EXPECT_EQ(missing_privsep_dir("Missing privilege separation directory: run/sshd"), "");
    EXPECT_EQ(missing_privsep_dir("Missing privilege separation directory: /run/../etc"), "");
    EXPECT_EQ(missing_privsep_dir("Missing privilege separation directory: /run/sshd x"), "");
    EXPECT_EQ(missing_privsep_dir("Missing privilege separation directory: /"), "");
}

TEST(PrivsepDir, TmpfsMustHideNothingTheRunNeeds) {
    EXPECT_EQ(private_dir_refusal("/run/sshd", {"/usr/sbin/sshd", "/etc/ssh/sshd_config"}), "");
    EXPECT_NE(private_dir_refusal("/sshd", {}), "");  // a tmpfs over /
    EXPECT_NE(private_dir_refusal("/etc/ssh/privsep", {"/usr/sbin/sshd", "/etc/ssh/sshd_config"}), "");
    EXPECT_NE(private_dir_refusal("/usr/sbin/x", {"/usr/sbin/sshd"}), "");
    EXPECT_EQ(private_dir_refusal("/run/sshd", {"/running/x"}), "");  // a prefix of a name is not a parent
}

TEST(PrivsepDir, AnswerAfterTheRetry) {
    const std::string path = "/etc/ssh/sshd_config";
    SshdConfig good;
    good.ok = true;
    good.ports = {2222};
    SshdConfig c = answer_with_private_dir(path, "/run/sshd", good, "");
    EXPECT_TRUE(c.ok);
    EXPECT_EQ(c.ports, std::vector<uint16_t>{2222});
    EXPECT_EQ(c.config_path, path);
    EXPECT_EQ(c.checked_with, "with a private /run/sshd (the real one is missing: ssh.service creates it when it starts)");

    // The config really is broken: that is an error, found with the private directory.
    SshdConfig broken;
    broken.error = "/etc/ssh/sshd_config line 3: Bad configuration option: Prot";
    c = answer_with_private_dir(path, "/run/sshd", broken, "");
    EXPECT_FALSE(c.ok);
    EXPECT_EQ(c.error, broken.error);
    EXPECT_NE(c.checked_with.find("with a private /run/sshd"), std::string::npos);

    // Never a config error when it could not be checked: no error, and why in checked_with.
    c = answer_with_private_dir(path, "/run/sshd", SshdConfig{}, "mounting a tmpfs on /run: Operation not permitted");
    EXPECT_FALSE(c.ok);
    EXPECT_EQ(c.error, "");
    EXPECT_NE(c.checked_with.find("not checked"), std::string::npos);
    EXPECT_NE(c.checked_with.find("Operation not permitted"), std::string::npos);

    SshdConfig same;
    same.error = "Missing privilege separation directory: /run/sshd";
    c = answer_with_private_dir(path, "/run/sshd", same, "");
    EXPECT_FALSE(c.ok);
    EXPECT_EQ(c.error, "");
    EXPECT_NE(c.checked_with.find("even with a private one"), std::string::npos);

    SshdConfig hung;
    hung.error = "sshd -T timed out after 3000 ms";
    c = answer_with_private_dir(path, "/run/sshd", hung, "");
    EXPECT_FALSE(c.ok);
    EXPECT_EQ(c.error, "");
    EXPECT_NE(c.checked_with.find("timed out"), std::string::npos);
}

// The runner itself: a directory that does not exist on the host exists for the child, and
// nothing is left behind.
TEST(PrivateDirRunner, DirectoryExistsOnlyForTheChild) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (a private mount namespace)";
    for (std::string dir : {"/run/sshd", "/run/synwhy-test-privsep"}) {
        if (path_exists(dir)) continue;  // the host has it: nothing to prove with this one
        auto r = run_program({"/bin/ls", "-ld", dir}, 3000ms, ExecView{dir});
        ASSERT_TRUE(r.started) << r.error;
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.out.substr(0, 10), "drwxr-xr-x") << r.out;
        EXPECT_NE(r.out.find(" root root "), std::string::npos) << r.out;
        EXPECT_FALSE(path_exists(dir)) << dir << " was left on the host";
    }
    // Whatever else /run held is hidden from the child only, never from us.
    EXPECT_TRUE(path_exists("/run"));
}

TEST(PrivateDirRunner, RefusalsAndFailuresAreNotStarts) {
    auto r = run_program({"/bin/true"}, 3000ms, ExecView{"/sshd"});
    EXPECT_FALSE(r.started);
    EXPECT_NE(r.error.find("refusing"), std::string::npos) << r.error;
    r = run_program({"/nonexistent/program"}, 3000ms, ExecView{"/run/synwhy-test-privsep"});
    EXPECT_FALSE(r.started);
    EXPECT_FALSE(r.error.empty());
    int status = 0;
    EXPECT_TRUE(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD);
}

TEST(PrivateDirRunner, ASetUpPastTheDeadlineIsKilledAndReaped) {
    // No time at all: the child's report is not waited for, whatever its set-up would have done.
    auto r = run_program({"/bin/true"}, 0ms, ExecView{"/run/synwhy-test-privsep"});
    EXPECT_FALSE(r.started);
    EXPECT_TRUE(r.timed_out);
    EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
    int status = 0;
    EXPECT_TRUE(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD);
    EXPECT_FALSE(path_exists("/run/synwhy-test-privsep"));
}

TEST(PrivateDirRunner, TimesOutWhileRunning) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (a private mount namespace)";
    auto r = run_program({"/bin/sleep", "5"}, 200ms, ExecView{"/run/synwhy-test-privsep"});
    EXPECT_TRUE(r.started) << r.error;
    EXPECT_TRUE(r.timed_out);
    EXPECT_FALSE(path_exists("/run/synwhy-test-privsep"));
}

// synwhy started with its stdio closed: the pipes must not take fds 0-2 and lose the output.
TEST(Runner, ClosedStdioDoesNotLoseTheOutput) {
    for (bool private_dir : {false, true}) {
        if (private_dir && geteuid() != 0) continue;  // the private runner needs root
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            close(0);
            close(1);
            close(2);
            auto r = private_dir ? run_program({"/bin/echo", "out"}, 3000ms, ExecView{"/run/synwhy-test-privsep"})
                                 : run_program({"/bin/echo", "out"}, 3000ms);
            _exit(r.started && r.exit_code == 0 && r.out == "out\n" ? 0 : 1);
        }
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "private_dir " << private_dir;
    }
}

// A container's programs are never run: its sshd and its fail2ban-client are reported unread.
TEST(ContainerView, NothingOfTheContainerIsRun) {
    SshdConfig c = query_sshd_config("/etc/ssh/sshd_config", 3000ms, "/proc/1/root");
    EXPECT_FALSE(c.ok);
    EXPECT_EQ(c.error, "");  // not a config error
    EXPECT_EQ(c.config_path, "/etc/ssh/sshd_config");
    EXPECT_TRUE(c.checked_with.starts_with("not checked")) << c.checked_with;
    EXPECT_NE(c.checked_with.find("sshd -T"), std::string::npos) << c.checked_with;
    std::string error;
    EXPECT_TRUE(query_fail2ban_bans("/proc/1/root", 3000ms, error).empty());
    EXPECT_NE(error.find("fail2ban-client banned"), std::string::npos) << error;
}

// --- listener owners.

TEST(ListenerOwnerFromProc, CmdlineText) {
    EXPECT_EQ(cmdline_text(std::string("/usr/sbin/sshd\0-D\0", 18), 512), "/usr/sbin/sshd -D");
    EXPECT_EQ(cmdline_text(std::string("docker-proxy\0-container-ip\0" "172.17.0.2\0", 38), 512),
              "docker-proxy -container-ip 172.17.0.2");
    EXPECT_EQ(cmdline_text(std::string(2000, 'a'), 512).size(), 512u);
    EXPECT_EQ(cmdline_text("", 512), "");
}

TEST(ListenerOwnerFromProc, UnitFromCgroup) {
    EXPECT_EQ(unit_from_cgroup("0::/system.slice/ssh.service\n"), "ssh.service");
    EXPECT_EQ(unit_from_cgroup("0::/init.scope\n"), "init.scope");
    EXPECT_EQ(unit_from_cgroup("0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n"),
              "user@1000.service/foo.service");
    EXPECT_EQ(unit_from_cgroup("0::/system.slice/docker-3f2a1b9c0d4e.scope\n"), "docker-3f2a1b9c0d4e.scope");
    EXPECT_EQ(unit_from_cgroup("0::/system.slice/foo.service/sub\n"), "foo.service");
    EXPECT_EQ(unit_from_cgroup("0::/\n"), "");
    EXPECT_EQ(unit_from_cgroup("0::/user.slice\n"), "");
    // cgroup v1: systemd's own hierarchy.
    EXPECT_EQ(unit_from_cgroup("4:memory:/x\n1:name=systemd:/system.slice/ssh.service\n"), "ssh.service");
    EXPECT_EQ(unit_from_cgroup(""), "");
    EXPECT_EQ(unit_from_cgroup("0::/.service\n"), "");
}

// --- firewall managers.

TEST(FirewallManagers, TableIsWhatProcShows) {
    for (const auto& m : known_firewall_managers()) {
        EXPECT_FALSE(m.name.empty());
        EXPECT_LE(m.comm.size(), 15u) << m.comm << ": the kernel keeps 15 characters of a comm";
    }
}

TEST(FirewallManagers, UfwEnabled) {
    EXPECT_TRUE(ufw_enabled("# comment\nENABLED=yes\nLOGLEVEL=low\n"));
    EXPECT_TRUE(ufw_enabled("ENABLED=\"yes\"\n"));
    EXPECT_FALSE(ufw_enabled("ENABLED=no\n"));
    EXPECT_FALSE(ufw_enabled("#ENABLED=yes\n"));
    EXPECT_FALSE(ufw_enabled("ENABLED=yes\nENABLED=no\n"));
    EXPECT_FALSE(ufw_enabled(""));
}

TEST(FirewallManagers, FoundOnThisMachineWithoutError) {
    // No daemon of the table is expected here; the scan must simply not fail or find junk.
    for (const auto& m : find_firewall_managers(0, "")) EXPECT_FALSE(m.name.empty());
}

// --- fail2ban.

TEST(Fail2ban, Banned) {
    auto j = parse_fail2ban_banned("[{'sshd': ['203.0.113.1', '2001:db8:5::1']}, {'recidive': []}]");
    ASSERT_TRUE(j);
    ASSERT_EQ(j->size(), 2u);
    EXPECT_EQ((*j)[0].first, "sshd");
    EXPECT_EQ((*j)[0].second, (std::vector<std::string>{"203.0.113.1", "2001:db8:5::1"}));
    EXPECT_EQ((*j)[1].first, "recidive");
    EXPECT_TRUE((*j)[1].second.empty());
    ASSERT_TRUE(parse_fail2ban_banned("[]"));
    EXPECT_TRUE(parse_fail2ban_banned("[]")->empty());
    EXPECT_TRUE(parse_fail2ban_banned("[{}]"));
    EXPECT_TRUE(parse_fail2ban_banned(" [ { \"a b\" : [ \"1.2.3.4\" ] } ] \n"));
    for (const char* bad : {"", "[", "[{'sshd': ['1.2.3.4']}", "[{'sshd' ['1.2.3.4']}]", "Sorry but the jail", "[{'a': [1]}]",
                            "[{'a': ['x',]}]", "[] x", "['a']", "[{'a': ['x']}, ]"})
        EXPECT_FALSE(parse_fail2ban_banned(bad)) << bad;
}

// Captured from fail2ban 1.0.2 (Debian 12) with two bans in the sshd jail.
TEST(Fail2ban, RealOutput) {
    auto j = parse_fail2ban_banned("[{'sshd': ['2001:db8:5::1', '203.0.113.1']}]\n");
    ASSERT_TRUE(j);
    ASSERT_EQ(j->size(), 1u);
    EXPECT_EQ((*j)[0].second.size(), 2u);
    auto bans = parse_fail2ban_banip_with_time("sshd",
                                               "2001:db8:5::1 \t2026-12-02 03:02:10 + 690 = 2026-12-02 03:13:40\n"
                                               "203.0.113.1 \t2026-12-02 03:02:48 + 652 = 2026-12-02 03:13:40\n",
                                               timegm);
    ASSERT_EQ(bans.size(), 2u);
    EXPECT_EQ(bans[0].until_s - bans[0].since_s, 690u);
    EXPECT_EQ(bans[1].addr.str(), "203.0.113.1");
    EXPECT_EQ(bans[1].until_s, utc_epoch(2026, 12, 2, 3, 13, 40));
}

TEST(Fail2ban, BannedSurvivesAnyInput) {
    const std::string good = "[{'sshd': ['203.0.113.1', '198.51.100.7']}, {'recidive': ['2001:db8::1']}]";
    std::mt19937 rng(12);
    for (int i = 0; i < 20000; ++i) {
        std::string s = good;
        int edits = 1 + int(rng() % 4);
        for (int e = 0; e < edits && !s.empty(); ++e) {
            size_t at = rng() % s.size();
            switch (rng() % 3) {
                case 0: s.erase(at, 1 + rng() % 5); break;
                case 1: s.insert(at, 1, char(rng() % 256)); break;
                default: s[at] = "[]{}',:\\\" "[rng() % 11];
            }
        }
        auto r = parse_fail2ban_banned(s);  // must not crash or hang
        if (r) for (const auto& [jail, addrs] : *r) EXPECT_LE(addrs.size(), 3u);
    }
}

TEST(Fail2ban, BanipWithTime) {
    const std::string text =
        "203.0.113.1 \t2026-12-02 03:00:00 + 600 = 2026-12-02 03:10:00\n"
        "2001:db8:5::1 \t2026-12-02 03:05:00 + -1 = 9999-12-31 23:59:59\n"
        "198.51.100.7\n"
        "not-an-address \t2026-12-02 03:00:00 + 600 = 2026-12-02 03:10:00\n"
        "192.0.2.9 \tgarbage\n";
    auto bans = parse_fail2ban_banip_with_time("sshd", text, timegm);
    ASSERT_EQ(bans.size(), 4u);
    EXPECT_EQ(bans[0].manager, "fail2ban");
    EXPECT_EQ(bans[0].jail, "sshd");
    EXPECT_EQ(bans[0].addr.str(), "203.0.113.1");
    EXPECT_EQ(bans[0].since_s, utc_epoch(2026, 12, 2, 3, 0, 0));
    EXPECT_EQ(bans[0].until_s, bans[0].since_s + 600);
    EXPECT_EQ(bans[1].addr.str(), "2001:db8:5::1");
    EXPECT_NE(bans[1].since_s, 0u);
    EXPECT_EQ(bans[1].until_s, 0u);  // permanent
    EXPECT_EQ(bans[2].since_s, 0u);
    EXPECT_EQ(bans[3].addr.str(), "192.0.2.9");
    EXPECT_EQ(bans[3].since_s, 0u);
    EXPECT_TRUE(parse_fail2ban_banip_with_time("sshd", "", timegm).empty());
    EXPECT_TRUE(parse_fail2ban_banip_with_time("sshd", "2026-13-45 99:99:99", timegm).empty());
    // Local time by default: whatever the zone, a time comes out.
    EXPECT_NE(parse_fail2ban_banip_with_time("j", text)[0].since_s, 0u);
}

// --- tc / XDP.

namespace {

struct MessageBuffer {
    std::vector<char> bytes = std::vector<char>(4096);
    struct nlmsghdr* nlh = mnl_nlmsg_put_header(bytes.data());
};

}  // namespace

TEST(NetPrograms, LinkXdpModes) {
    MessageBuffer m;
    m.nlh->nlmsg_type = RTM_NEWLINK;
    auto* ifi = static_cast<struct ifinfomsg*>(mnl_nlmsg_put_extra_header(m.nlh, sizeof(struct ifinfomsg)));
    ifi->ifi_index = 3;
    mnl_attr_put_strz(m.nlh, IFLA_IFNAME, "eth0");
    struct nlattr* xdp = mnl_attr_nest_start(m.nlh, IFLA_XDP);
    mnl_attr_put_u8(m.nlh, IFLA_XDP_ATTACHED, XDP_ATTACHED_MULTI);
    mnl_attr_put_u32(m.nlh, IFLA_XDP_DRV_PROG_ID, 41);
    mnl_attr_put_u32(m.nlh, IFLA_XDP_SKB_PROG_ID, 42);
    mnl_attr_nest_end(m.nlh, xdp);
    LinkXdp link;
    ASSERT_TRUE(parse_link_xdp(m.nlh, link));
    EXPECT_EQ(link.ifindex, 3u);
    EXPECT_EQ(link.ifname, "eth0");
    EXPECT_EQ(link.programs, (std::vector<std::pair<std::string, uint32_t>>{{"xdp", 41}, {"xdpgeneric", 42}}));

    // An older kernel: one mode, its program only as IFLA_XDP_PROG_ID.
    MessageBuffer old;
    old.nlh->nlmsg_type = RTM_NEWLINK;
    mnl_nlmsg_put_extra_header(old.nlh, sizeof(struct ifinfomsg));
    xdp = mnl_attr_nest_start(old.nlh, IFLA_XDP);
    mnl_attr_put_u8(old.nlh, IFLA_XDP_ATTACHED, XDP_ATTACHED_SKB);
    mnl_attr_put_u32(old.nlh, IFLA_XDP_PROG_ID, 7);
    mnl_attr_nest_end(old.nlh, xdp);
    ASSERT_TRUE(parse_link_xdp(old.nlh, link));
    EXPECT_EQ(link.programs, (std::vector<std::pair<std::string, uint32_t>>{{"xdpgeneric", 7}}));

    MessageBuffer other;
    other.nlh->nlmsg_type = RTM_NEWADDR;
    EXPECT_FALSE(parse_link_xdp(other.nlh, link));
    MessageBuffer shorter;
    shorter.nlh->nlmsg_type = RTM_NEWLINK;  // no ifinfomsg
    EXPECT_FALSE(parse_link_xdp(shorter.nlh, link));
}

TEST(NetPrograms, TcBpfFilter) {
    MessageBuffer m;
    m.nlh->nlmsg_type = RTM_NEWTFILTER;
    mnl_nlmsg_put_extra_header(m.nlh, sizeof(struct tcmsg));
    mnl_attr_put_strz(m.nlh, TCA_KIND, "bpf");
    struct nlattr* opts = mnl_attr_nest_start(m.nlh, TCA_OPTIONS);
    mnl_attr_put_u32(m.nlh, TCA_BPF_ID, 99);
    mnl_attr_put_strz(m.nlh, TCA_BPF_NAME, "drop.o:[tc]");
    mnl_attr_put_u32(m.nlh, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
    mnl_attr_nest_end(m.nlh, opts);
    uint32_t id = 0;
    std::string name;
    ASSERT_TRUE(parse_tc_bpf_filter(m.nlh, id, name));
    EXPECT_EQ(id, 99u);
    EXPECT_EQ(name, "drop.o:[tc]");

    MessageBuffer u32;
    u32.nlh->nlmsg_type = RTM_NEWTFILTER;
    mnl_nlmsg_put_extra_header(u32.nlh, sizeof(struct tcmsg));
    mnl_attr_put_strz(u32.nlh, TCA_KIND, "u32");
    EXPECT_FALSE(parse_tc_bpf_filter(u32.nlh, id, name));
}

TEST(NetPrograms, ProgIdFromFdinfo) {
    EXPECT_EQ(prog_id_from_fdinfo("pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nprog_type:\t3\nprog_jited:\t1\n"
                                  "prog_tag:\tabc\nmemlock:\t4096\nprog_id:\t42\nrun_time_ns:\t0\n"),
              42u);
    EXPECT_EQ(prog_id_from_fdinfo("link_type:\ttcx\nlink_id:\t5\nprog_tag:\tx\nprog_id:\t77\n"), 77u);
    EXPECT_EQ(prog_id_from_fdinfo("pos:\t0\n"), 0u);
    EXPECT_EQ(prog_id_from_fdinfo("xprog_id:\t5\n"), 0u);
    EXPECT_EQ(prog_id_from_fdinfo("prog_id:\t99999999999\n"), 0u);
}

TEST(NetPrograms, ListedOnThisMachine) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    std::string error;
    auto programs = list_net_programs(error);
    EXPECT_EQ(error, "");
    for (const auto& p : programs) {
        EXPECT_FALSE(p.ifname.empty());
        EXPECT_NE(p.prog_id, 0u);
    }
}
