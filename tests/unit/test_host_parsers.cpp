// The pure parts of the host probes, on output captured from real OpenSSH 9.2 (Debian 12), and
// run_program on harmless programs. No root needed.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include "host/exec.h"
#include "host/procfs.h"
#include "host/snapshot.h"

using namespace synwhy::host;
using namespace std::chrono_literals;

namespace {

// `sshd -T -f CONFIG` with only "HostKey ..." in CONFIG (trimmed: the first and last lines).
const char* const sshd_T_default =
    "port 22\n"
    "addressfamily any\n"
    "listenaddress [::]:22\n"
    "listenaddress 0.0.0.0:22\n"
    "usepam no\n"
    "logingracetime 120\n"
    "x11displayoffset 10\n"
    "maxauthtries 6\n"
    "maxsessions 10\n"
    "permitrootlogin without-password\n"
    "pubkeyauthentication yes\n"
    "passwordauthentication yes\n"
    "pidfile /run/sshd.pid\n"
    "authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2\n"
    "hostkey /tmp/hx/hostkey\n"
    "maxstartups 10:30:100\n"
    "permitlisten any\n"
    "permituserenvironment no\n"
    "pubkeyauthoptions none\n";

// ... with "Port 2222".
const char* const sshd_T_port_2222 =
    "port 2222\n"
    "addressfamily any\n"
    "listenaddress [::]:2222\n"
    "listenaddress 0.0.0.0:2222\n"
    "usepam no\n"
    "logingracetime 120\n"
    "hostkey /tmp/hx/hostkey\n"
    "pubkeyauthoptions none\n";

// ... with "ListenAddress 127.0.0.1" and "ListenAddress ::1".
const char* const sshd_T_loopback =
    "port 22\n"
    "addressfamily any\n"
    "listenaddress 127.0.0.1:22\n"
    "listenaddress [::1]:22\n"
    "usepam no\n"
    "hostkey /tmp/hx/hostkey\n";

// ... with "AddressFamily inet".
const char* const sshd_T_inet =
    "port 22\n"
    "addressfamily inet\n"
    "listenaddress 0.0.0.0:22\n"
    "usepam no\n"
    "hostkey /tmp/hx/hostkey\n";

// ... with "Port 22", "Port 2222" and "ListenAddress 10.0.0.1:2200".
const char* const sshd_T_multi =
    "port 22\n"
    "port 2222\n"
    "addressfamily any\n"
    "listenaddress 10.0.0.1:2200\n"
    "usepam no\n";

}  // namespace

TEST(SshdT, DefaultPortBothFamilies) {
    auto c = parse_sshd_T(sshd_T_default);
    EXPECT_TRUE(c.ok);
    EXPECT_EQ(c.ports, (std::vector<uint16_t>{22}));
    EXPECT_EQ(c.listen_addresses, (std::vector<std::string>{"[::]:22", "0.0.0.0:22"}));
    EXPECT_EQ(c.address_family, "any");
    EXPECT_TRUE(c.error.empty());
}

TEST(SshdT, OtherPort) {
    auto c = parse_sshd_T(sshd_T_port_2222);
    EXPECT_TRUE(c.ok);
    EXPECT_EQ(c.ports, (std::vector<uint16_t>{2222}));
    EXPECT_EQ(c.listen_addresses, (std::vector<std::string>{"[::]:2222", "0.0.0.0:2222"}));
}

TEST(SshdT, LoopbackOnly) {
    auto c = parse_sshd_T(sshd_T_loopback);
    EXPECT_TRUE(c.ok);
    EXPECT_EQ(c.ports, (std::vector<uint16_t>{22}));
    EXPECT_EQ(c.listen_addresses, (std::vector<std::string>{"127.0.0.1:22", "[::1]:22"}));
    EXPECT_EQ(c.address_family, "any");
}

TEST(SshdT, InetOnly) {
    auto c = parse_sshd_T(sshd_T_inet);
    EXPECT_TRUE(c.ok);
    EXPECT_EQ(c.address_family, "inet");
    EXPECT_EQ(c.listen_addresses, (std::vector<std::string>{"0.0.0.0:22"}));
}

TEST(SshdT, SeveralPortsAndExplicitPort) {
    auto c = parse_sshd_T(sshd_T_multi);
    EXPECT_TRUE(c.ok);
    EXPECT_EQ(c.ports, (std::vector<uint16_t>{22, 2222}));
    EXPECT_EQ(c.listen_addresses, (std::vector<std::string>{"10.0.0.1:2200"}));
}

TEST(SshdT, RdomainSuffixAndCrlf) {
    auto c = parse_sshd_T("port 22\r\naddressfamily inet6\r\nlistenaddress [::]:22 rdomain blue\r\n");
    EXPECT_TRUE(c.ok);
    EXPECT_EQ(c.ports, (std::vector<uint16_t>{22}));
    EXPECT_EQ(c.listen_addresses, (std::vector<std::string>{"[::]:22"}));
    EXPECT_EQ(c.address_family, "inet6");
}

TEST(SshdT, NotSshdOutput) {
    auto c = parse_sshd_T("");
    EXPECT_FALSE(c.ok);
    EXPECT_FALSE(c.error.empty());
    EXPECT_FALSE(parse_sshd_T("garbage\nport\n").ok);
}

TEST(SshdErrors, FirstLine) {
    // `sshd -t -f CONFIG` with "Port abc": sshd ends its stderr lines with "\r\n".
    EXPECT_EQ(first_sshd_error_line("/tmp/hx/bad/sshd_config line 2: Badly formatted port number.\r\n"),
              "/tmp/hx/bad/sshd_config line 2: Badly formatted port number.");
    // ... with a HostKey that does not exist.
    EXPECT_EQ(first_sshd_error_line("Unable to load host key: /tmp/hx/nonexistent\r\n"
                                    "sshd: no hostkeys available -- exiting.\r\n"),
              "Unable to load host key: /tmp/hx/nonexistent");
    // ... with a config file that does not exist.
    EXPECT_EQ(first_sshd_error_line("/nonexist: No such file or directory\r\n"), "/nonexist: No such file or directory");
    EXPECT_EQ(first_sshd_error_line("\r\n  \n  sshd: no hostkeys available -- exiting.\r\n"),
              "sshd: no hostkeys available -- exiting.");
    EXPECT_EQ(first_sshd_error_line(""), "");
}

TEST(SshdErrors, DeprecationWarningIsNotTheError) {
    // "UsePrivilegeSeparation yes" then "Port x".
    const char* err = "/tmp/hx/bad/dep line 2: Deprecated option UsePrivilegeSeparation\r\n"
                      "/tmp/hx/bad/dep line 3: Badly formatted port number.\r\n";
    EXPECT_EQ(first_sshd_error_line(err), "/tmp/hx/bad/dep line 3: Badly formatted port number.");
    // A warning alone is still better than nothing.
    EXPECT_EQ(first_sshd_error_line("/c line 2: Deprecated option UsePrivilegeSeparation\r\n"),
              "/c line 2: Deprecated option UsePrivilegeSeparation");
}

TEST(SshdCmdline, ConfigPath) {
    EXPECT_EQ(sshd_config_path_from_cmdline({"/usr/sbin/sshd", "-D"}), "/etc/ssh/sshd_config");
    EXPECT_EQ(sshd_config_path_from_cmdline({}), "/etc/ssh/sshd_config");
    EXPECT_EQ(sshd_config_path_from_cmdline({"/usr/sbin/sshd", "-f", "/srv/sshd_config"}), "/srv/sshd_config");
    EXPECT_EQ(sshd_config_path_from_cmdline({"/usr/sbin/sshd", "-f/srv/sshd_config", "-D"}), "/srv/sshd_config");
    // getopt bundling, and the last -f wins as in sshd.
    EXPECT_EQ(sshd_config_path_from_cmdline({"sshd", "-Df", "/a"}), "/a");
    EXPECT_EQ(sshd_config_path_from_cmdline({"sshd", "-f", "/a", "-f", "/b"}), "/b");
    // Another option's argument is not a config path.
    EXPECT_EQ(sshd_config_path_from_cmdline({"sshd", "-E", "-f", "-D"}), "/etc/ssh/sshd_config");
    EXPECT_EQ(sshd_config_path_from_cmdline({"sshd", "-o", "Port=2", "-f", "/c"}), "/c");
    // A trailing -f without a value changes nothing.
    EXPECT_EQ(sshd_config_path_from_cmdline({"sshd", "-f"}), "/etc/ssh/sshd_config");
    // OpenSSH >= 8.2 rewrites the daemon's title into one argv string (real /proc/PID/cmdline).
    EXPECT_EQ(sshd_config_path_from_cmdline({"sshd: /usr/sbin/sshd -f /run/synwhy-lab/dev/sshd_config -E "
                                             "/run/synwhy-lab/dev/sshd.log [listener] 0 of 10-100 startups"}),
              "/run/synwhy-lab/dev/sshd_config");
    EXPECT_EQ(sshd_config_path_from_cmdline({"sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"}),
              "/etc/ssh/sshd_config");
}

TEST(SshdCmdline, DaemonOrChild) {
    EXPECT_TRUE(sshd_cmdline_is_daemon({"sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"}));
    EXPECT_TRUE(sshd_cmdline_is_daemon({"/usr/sbin/sshd", "-D"}));
    EXPECT_TRUE(sshd_cmdline_is_daemon({"/usr/sbin/sshd"}));
    EXPECT_FALSE(sshd_cmdline_is_daemon({"sshd: alice [priv]"}));
    EXPECT_FALSE(sshd_cmdline_is_daemon({"sshd: alice@pts/0"}));
    EXPECT_FALSE(sshd_cmdline_is_daemon({"sshd: [accepted]"}));
    EXPECT_FALSE(sshd_cmdline_is_daemon({"/usr/sbin/sshd", "-i"}));
    EXPECT_FALSE(sshd_cmdline_is_daemon({"/usr/sbin/sshd", "-T", "-f", "/c"}));
    EXPECT_FALSE(sshd_cmdline_is_daemon({"/usr/sbin/sshd", "-t"}));
    EXPECT_FALSE(sshd_cmdline_is_daemon({}));
}

TEST(Procfs, StatWithAwkwardComm) {
    auto f = procfs::parse_stat("1234 (a) b (c)) S 77 1234 1234 0 -1 4194560 0 0");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->comm, "a) b (c)");
    EXPECT_EQ(f->state, 'S');
    EXPECT_EQ(f->ppid, 77);
    f = procfs::parse_stat("12152 (sshd) S 1 12152 12152 0 -1 4194624 56 0 0 0");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->ppid, 1);
    EXPECT_FALSE(procfs::parse_stat("1 (x"));
    EXPECT_FALSE(procfs::parse_stat("1 (x) "));
}

TEST(Procfs, Cmdline) {
    EXPECT_EQ(procfs::split_cmdline(std::string("/usr/sbin/sshd\0-D\0", 18)),
              (std::vector<std::string>{"/usr/sbin/sshd", "-D"}));
    EXPECT_EQ(procfs::split_cmdline(std::string("a\0\0b", 4)), (std::vector<std::string>{"a", "", "b"}));
    EXPECT_TRUE(procfs::split_cmdline("").empty());
}

namespace {
// No child of ours is left over, not even a zombie.
bool no_children_left() {
    int status = 0;
    return waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD;
}
}  // namespace

TEST(RunProgram, CapturesStdout) {
    auto r = run_program({"/bin/echo", "hi"}, 2000ms);
    EXPECT_TRUE(r.started);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "hi\n");
    EXPECT_EQ(r.err, "");
    EXPECT_TRUE(no_children_left());
}

TEST(RunProgram, StderrExitCodeAndEnvironment) {
    auto r = run_program({"/bin/sh", "-c", "echo oops >&2; env; exit 3"}, 2000ms);
    EXPECT_TRUE(r.started);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.err, "oops\n");
    // dash adds PWD itself; nothing of ours leaks but PATH.
    EXPECT_NE(r.out.find("PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("HOME="), std::string::npos) << r.out;
    EXPECT_TRUE(no_children_left());
}

TEST(RunProgram, LargeOutputDoesNotDeadlock) {
    auto r = run_program({"/usr/bin/head", "-c", "300000", "/dev/zero"}, 5000ms);
    EXPECT_TRUE(r.started);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out.size(), 300000u);
}

TEST(RunProgram, TimeoutKills) {
    auto start = std::chrono::steady_clock::now();
    auto r = run_program({"/bin/sleep", "5"}, 200ms);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(r.started);
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.exit_code, -9);
    EXPECT_LT(took, 2s);
    EXPECT_GE(took, 190ms);
    EXPECT_TRUE(no_children_left());
}

TEST(RunProgram, TimeoutKillsGrandchildrenHoldingThePipes) {
    auto start = std::chrono::steady_clock::now();
    auto r = run_program({"/bin/sh", "-c", "/bin/sleep 5 & /bin/sleep 5"}, 200ms);
    EXPECT_TRUE(r.timed_out);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    EXPECT_TRUE(no_children_left());
}

TEST(RunProgram, MissingProgram) {
    auto r = run_program({"/nonexistent/program"}, 1000ms);
    EXPECT_FALSE(r.started);
    EXPECT_FALSE(r.error.empty());
    r = run_program({"relative/path"}, 1000ms);
    EXPECT_FALSE(r.started);
    r = run_program({}, 1000ms);
    EXPECT_FALSE(r.started);
    EXPECT_TRUE(no_children_left());
}

TEST(TcpExt, ListenCountersFromNetstat) {
    // Trimmed from /proc/net/netstat on 6.18.
    const std::string text =
        "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPHPHits\n"
        "TcpExt: 0 0 7 9 12\n"
        "IpExt: InNoRoutes InTruncatedPkts\n"
        "IpExt: 0 0\n";
    uint64_t o = 0, d = 0;
    ASSERT_TRUE(synwhy::host::parse_tcpext_listen_counters(text, o, d));
    EXPECT_EQ(o, 7u);
    EXPECT_EQ(d, 9u);
    EXPECT_FALSE(synwhy::host::parse_tcpext_listen_counters("IpExt: A\nIpExt: 1\n", o, d));
}

TEST(Containers, RuntimeNamesFromCgroupPaths) {
    using synwhy::host::container_from_cgroup;
    EXPECT_EQ(container_from_cgroup("0::/system.slice/docker-3f2a1b9c0d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8.scope\n"),
              "docker 3f2a1b9c0d4e");
    EXPECT_EQ(container_from_cgroup("12:pids:/docker/0123456789abcdef0123456789abcdef\n"), "docker 0123456789ab");
    EXPECT_EQ(container_from_cgroup("0::/machine.slice/libpod-aaaabbbbccccddddeeee.scope/container\n"), "podman aaaabbbbcccc");
    EXPECT_EQ(container_from_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n"), "");
}
