// The diagnosis on servers booted with systemd: the ssh units' states, socket activation, who holds
// sshd's port. Snapshots built by hand as the host probes fill them on a Debian 12 server (the
// systemd lab's scenarios) and on what the lab cannot run (Ubuntu's generator, SELinux, Fedora's
// unit names, Raspberry Pi OS, docker-proxy). Each scenario also checks that no fix line names a
// tool or unit the scenario does not have (as tests/e2e/syslab_test.sh does).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include "diagnosis/diagnose.h"
#include "diagnose_helpers.h"
#include "diagnosis/owners/listener_owners.h"
#include "diagnosis/owners/ssh_units.h"

using namespace synwhy;
using namespace synwhy::testing;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

constexpr uint32_t kNetns = 4026532100;
constexpr const char* kServer4 = "203.0.113.2";
constexpr const char* kClient4 = "203.0.113.1";

Event ev(EventKind kind, const char* client, const char* server, uint16_t dport, uint64_t ts) {
    Event e;
    e.kind = kind;
    e.ts_ns = ts;
    e.netns = kNetns;
    e.src = ip(client);
    e.dst = ip(server);
    e.sport = 41000;
    e.dport = dport;
    e.ifname = "host0";
    return e;
}

std::vector<Event> refused(uint16_t port, const char* client = kClient4, const char* server = kServer4) {
    Event rst = ev(EventKind::rst_sent, client, server, port, 1001);
    rst.reason = "NO_SOCKET";
    return {ev(EventKind::syn_rx, client, server, port, 1000), rst};
}

std::vector<Event> handshake(uint16_t port, const char* client = kClient4, const char* server = kServer4) {
    return {ev(EventKind::syn_rx, client, server, port, 1000), ev(EventKind::tx_synack, client, server, port, 1001),
            ev(EventKind::established, client, server, port, 1002)};
}

Listener listener(const char* addr, uint16_t port, int pid, const char* comm, const char* unit = "") {
    Listener l;
    l.addr = ip(addr);
    l.port = port;
    l.pid = pid;
    l.comm = comm;
    l.unit = unit;
    l.backlog = 128;
    return l;
}

JournalLine journal(const std::string& message, uint64_t second) {
    return {1764672000ull * 1000000000ull + second * 1000000000ull, "ssh.service", 6, message};
}

// Appends the unit's journal lines, one second apart after its last.
void logged(SystemdUnit& u, std::initializer_list<const char*> messages) {
    uint64_t second = u.journal.size() + 1;
    for (const char* m : messages) u.journal.push_back(journal(m, second++));
}

// Debian 12's ssh.service (Alias=sshd.service), as the probe lists it: once, aliases folded.
SystemdUnit ssh_service(const char* active, const char* sub, const char* file_state, const char* result = "success") {
    SystemdUnit u;
    u.id = u.name = "ssh.service";
    u.aliases = {"sshd.service"};
    u.load_state = std::string(file_state) == "masked" ? "masked" : "loaded";
    u.active_state = active;
    u.sub_state = sub;
    u.unit_file_state = file_state;
    u.result = result;
    u.fragment_path = "/lib/systemd/system/ssh.service";
    u.journal = {journal("Started ssh.service - OpenBSD Secure Shell server.", 1)};
    return u;
}

SystemdUnit ssh_socket(const char* active, const char* file_state, std::vector<std::string> listen = {"[::]:22"},
                       const char* result = "success") {
    SystemdUnit u;
    u.id = u.name = "ssh.socket";
    u.load_state = "loaded";
    u.active_state = active;
    u.sub_state = std::string(active) == "active" ? "listening" : active == std::string("failed") ? "failed" : "dead";
    u.unit_file_state = file_state;
    u.result = result;
    u.listen = std::move(listen);
    u.triggers = {"ssh.service"};
    u.fragment_path = "/lib/systemd/system/ssh.socket";
    return u;
}

SshdConfig config_ok(std::vector<uint16_t> ports = {22}) {
    SshdConfig c;
    c.config_path = "/etc/ssh/sshd_config";
    c.ok = true;
    c.ports = std::move(ports);
    c.listen_addresses = {"0.0.0.0:" + std::to_string(c.ports.front()), "[::]:" + std::to_string(c.ports.front())};
    c.address_family = "any";
    c.checked_with = "with a private /run/sshd (the real one is missing: ssh.service creates it when it starts)";
    return c;
}

SshdConfig config_broken() {
    SshdConfig c;
    c.config_path = "/etc/ssh/sshd_config";
    c.error = "/etc/ssh/sshd_config: line 123: Bad configuration option: PermitRootLogn";
    c.checked_with = "with a private /run/sshd (the real one is missing: ssh.service creates it when it starts)";
    return c;
}

// sshd -t failed on /etc/ssh/sshd_config with `error` as its first line.
SshdConfig config_failing(const char* error) {
    SshdConfig c;
    c.config_path = "/etc/ssh/sshd_config";
    c.error = error;
    return c;
}

// A stock Debian 12 server booted with systemd, ssh.service as given, nothing listening yet.
HostSnapshot debian(SystemdUnit service, std::vector<Listener> listeners = {}) {
    HostSnapshot h;
    h.netns = kNetns;
    h.addresses = {ip(kServer4), ip("2001:db8:5::2"), ip("127.0.0.1")};
    h.listeners = std::move(listeners);
    h.systemd_running = true;
    h.os_id = "debian";
    h.os_version_id = "12";
    h.units = {std::move(service)};
    h.sshd_configs = {config_ok()};
    return h;
}

// As `grep -w`: the term with no letter, digit or underscore on either side.
bool names_word(const std::string& line, const std::string& term) {
    auto word_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    for (size_t at = line.find(term); at != std::string::npos; at = line.find(term, at + 1)) {
        bool before = at > 0 && word_char(line[at - 1]);
        bool after = at + term.size() < line.size() && word_char(line[at + term.size()]);
        if (!before && !after) return true;
    }
    return false;
}

// tests/e2e/syslab_test.sh's FIX_TERMS: no fix line may name one the scenario does not allow.
::testing::AssertionResult fixes_name_only(const Diagnosis& d, std::vector<std::string> allowed) {
    static const std::vector<std::string> terms = {
        "ufw", "firewall-cmd", "fail2ban-client", "sshguard", "nft", "iptables", "ip6tables", "ssh.socket",
        "ssh.service", "semanage", "docker", "tc", "sshd_config", "reset-failed", "unmask", "squatter"};
    for (const auto& c : d.causes)
        for (const auto& line : c.fix)
            for (const auto& term : terms)
                if (std::find(allowed.begin(), allowed.end(), term) == allowed.end() && names_word(line, term))
                    return ::testing::AssertionFailure() << "fix names '" << term << "': " << line;
    return ::testing::AssertionSuccess();
}

}  // namespace

// ---- ssh.service's states: the no-listener fix ----

TEST(DiagnoseSystemd, StoppedUnitIsStartedWithNoConfigError) {
    SystemdUnit service = ssh_service("inactive", "dead", "enabled");
    logged(service, {"Stopping ssh.service - OpenBSD Secure Shell server...",
                  "ssh.service: Deactivated successfully.",
                  "Stopped ssh.service - OpenBSD Secure Shell server."});
    auto d = run(refused(22), debian(service));
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    const Cause& c = d.causes[0];
    EXPECT_EQ(c.fix, std::vector<std::string>{"systemctl start ssh"});
    EXPECT_EQ(c.summary, "connections to 203.0.113.2:22 are refused: nothing listens on port 22");
    // The unit once, its alias beside it, not as a second unit.
    EXPECT_EQ(count_containing(c.evidence, "ssh.service (also sshd.service): inactive (dead), enabled, result success"), 1);
    EXPECT_FALSE(any_contains(c.evidence, "sshd.service:"));
    EXPECT_FALSE(any_contains(c.evidence, "Missing privilege"));
    EXPECT_TRUE(any_contains(c.evidence, "checked with a private /run/sshd"));
    EXPECT_TRUE(fixes_name_only(d, {}));
}

TEST(DiagnoseSystemd, MissingPrivsepDirIsNeverAConfigError) {
    // The host side did not re-check: sshd -t's only complaint is the stopped unit's missing /run/sshd.
    HostSnapshot h = debian(ssh_service("inactive", "dead", "enabled"));
    h.sshd_configs[0] = config_failing("Missing privilege separation directory: /run/sshd");
    auto d = run(refused(22), h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    EXPECT_EQ(d.causes[0].fix, std::vector<std::string>{"systemctl start ssh"});
    EXPECT_FALSE(any_contains(d.causes[0].evidence, "Missing privilege"));
    EXPECT_TRUE(any_contains(d.causes[0].evidence, "sshd -t -f /etc/ssh/sshd_config: not checked"));
}

TEST(DiagnoseSystemd, StaleJournalErrorsBeforeTheLastStartAreIgnored) {
    // Broken, repaired and started again this boot, then stopped: the old error is no cause.
    SystemdUnit service = ssh_service("inactive", "dead", "enabled");
    service.journal = {journal("/etc/ssh/sshd_config: line 123: Bad configuration option: PermitRootLogn", 1),
                       journal("ssh.service: Start request repeated too quickly.", 2),
                       journal("Started ssh.service - OpenBSD Secure Shell server.", 3),
                       journal("Stopped ssh.service - OpenBSD Secure Shell server.", 4)};
    HostSnapshot h = debian(service);
    h.sshd_configs[0] = SshdConfig{};
    h.sshd_configs[0].config_path = "/etc/ssh/sshd_config";
    h.sshd_configs[0].checked_with = "not checked: sshd refuses to read its config while /run/sshd is missing";
    auto d = run(refused(22), h);
    EXPECT_EQ(d.causes[0].fix, std::vector<std::string>{"systemctl start ssh"});
    EXPECT_FALSE(any_contains(d.causes[0].evidence, "journal:"));
}

TEST(DiagnoseSystemd, StoppedAndDisabledIsEnabledNow) {
    auto d = run(refused(22), debian(ssh_service("inactive", "dead", "disabled")));
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    EXPECT_EQ(d.causes[0].fix, std::vector<std::string>{"systemctl enable --now ssh"});
    EXPECT_TRUE(fixes_name_only(d, {}));
}

// Restart=on-failure between two deaths: another restart is no fix, the reason it dies is.
TEST(DiagnoseSystemd, CrashLoopPointsAtTheJournalNotARestart) {
    SystemdUnit service = ssh_service("activating", "auto-restart", "enabled", "signal");
    auto d = run(refused(22), debian(service));
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    EXPECT_EQ(d.causes[0].fix, std::vector<std::string>{
                                   "ssh.service keeps dying and being restarted: see why in its journal: "
                                   "journalctl -b -u ssh.service -n 30"});
}

TEST(DiagnoseSystemd, RaspberryPiOsShipsSshDisabled) {
    HostSnapshot h = debian(ssh_service("inactive", "dead", "disabled"));
    h.os_id = "raspbian";
    auto d = run(refused(22, "2001:db8:5::1", "2001:db8:5::2"), h);
    EXPECT_EQ(d.causes[0].fix[0], "systemctl enable --now ssh");
}

TEST(DiagnoseSystemd, MaskedIsUnmaskedThenEnabled) {
    auto d = run(refused(22), debian(ssh_service("inactive", "dead", "masked")));
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    EXPECT_EQ(d.causes[0].fix, (std::vector<std::string>{"systemctl unmask ssh", "systemctl enable --now ssh"}));
    EXPECT_TRUE(fixes_name_only(d, {"unmask"}));
}

TEST(DiagnoseSystemd, ConfigErrorFromSshdTIsTheFirstFix) {
    SystemdUnit service = ssh_service("failed", "failed", "enabled", "exit-code");
    logged(service, {"/etc/ssh/sshd_config: line 123: Bad configuration option: PermitRootLogn",
                  "/etc/ssh/sshd_config: terminating, 1 bad configuration options",
                  "ssh.service: Control process exited, code=exited, status=255/EXCEPTION",
                  "ssh.service: Failed with result 'exit-code'.",
                  "Failed to start ssh.service - OpenBSD Secure Shell server."});
    HostSnapshot h = debian(service);
    h.sshd_configs = {config_broken()};
    auto d = run(refused(22), h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    const Cause& c = d.causes[0];
    EXPECT_EQ(c.fix, (std::vector<std::string>{"fix /etc/ssh/sshd_config line 123: Bad configuration option: PermitRootLogn",
                                              "check it with: sshd -t", "then: systemctl start ssh"}));
    EXPECT_TRUE(any_contains(c.evidence, "journal: "));
    EXPECT_TRUE(any_contains(c.evidence, "line 123: Bad configuration option"));
    EXPECT_LE(count_containing(c.evidence, "journal: "), 3);
    EXPECT_TRUE(fixes_name_only(d, {"sshd_config"}));
}

TEST(DiagnoseSystemd, ConfigErrorFromTheJournalWhenSshdTCouldNotCheck) {
    SystemdUnit service = ssh_service("failed", "failed", "enabled", "exit-code");
    logged(service, {"/etc/ssh/sshd_config: line 123: Bad configuration option: PermitRootLogn",
                  "ssh.service: Failed with result 'exit-code'."});
    HostSnapshot h = debian(service);
    h.sshd_configs[0] = config_failing("Missing privilege separation directory: /run/sshd");
    auto d = run(refused(22), h);
    ASSERT_GE(d.causes[0].fix.size(), 1u);
    EXPECT_EQ(d.causes[0].fix[0], "fix /etc/ssh/sshd_config line 123: Bad configuration option: PermitRootLogn");
}

TEST(DiagnoseSystemd, StartLimitIsResetThenStarted) {
    // systemd 252: Result stays "signal"; the journal says the limit was hit.
    SystemdUnit service = ssh_service("failed", "failed", "enabled", "signal");
    logged(service, {"ssh.service: Main process exited, code=killed, status=9/KILL",
                  "ssh.service: Failed with result 'signal'.",
                  "ssh.service: Scheduled restart job, restart counter is at 5.",
                  "Stopped ssh.service - OpenBSD Secure Shell server.",
                  "ssh.service: Start request repeated too quickly.",
                  "ssh.service: Failed with result 'signal'."});
    auto d = run(refused(22), debian(service));
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    const Cause& c = d.causes[0];
    EXPECT_EQ(c.fix, std::vector<std::string>{"systemctl reset-failed ssh && systemctl start ssh"});
    EXPECT_TRUE(any_contains(c.evidence, "repeated too quickly"));
    EXPECT_TRUE(any_contains(c.evidence, "status=9/KILL"));
    EXPECT_TRUE(fixes_name_only(d, {"reset-failed"}));

    // A systemd that says so in Result.
    auto d2 = run(refused(22), debian(ssh_service("failed", "failed", "enabled", "start-limit-hit")));
    EXPECT_EQ(d2.causes[0].fix, std::vector<std::string>{"systemctl reset-failed ssh && systemctl start ssh"});
    EXPECT_TRUE(any_contains(d2.causes[0].evidence, "result start-limit-hit"));
}

TEST(DiagnoseSystemd, SelinuxBindDenialLabelsThePort) {
    // Fedora: sshd.service, Port 2222 not labelled ssh_port_t.
    SystemdUnit service = ssh_service("failed", "failed", "enabled", "exit-code");
    service.id = service.name = "sshd.service";
    service.aliases = {};
    logged(service, {"error: Bind to port 2222 on 0.0.0.0 failed: Permission denied.",
                  "fatal: Cannot bind any address."});
    HostSnapshot h = debian(service);
    h.os_id = "fedora";
    h.sshd_configs = {config_ok({2222})};
    auto d = run(refused(2222), h, {2222});
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    EXPECT_EQ(d.causes[0].fix,
              (std::vector<std::string>{"semanage port -a -t ssh_port_t -p tcp 2222", "then: systemctl start sshd"}));
    EXPECT_TRUE(any_contains(d.causes[0].evidence, "Permission denied"));
}

TEST(DiagnoseSystemd, FedoraNamesTheUnitSshd) {
    SystemdUnit service = ssh_service("inactive", "dead", "enabled");
    service.id = service.name = "sshd.service";
    service.aliases = {};
    HostSnapshot h = debian(service);
    h.os_id = "fedora";
    EXPECT_EQ(run(refused(22), h).causes[0].fix, std::vector<std::string>{"systemctl start sshd"});
    // No unit read at all: the distribution's name.
    h.units.clear();
    EXPECT_EQ(run(refused(22), h).causes[0].fix, std::vector<std::string>{"systemctl enable --now sshd"});
}

TEST(DiagnoseSystemd, WithoutSystemdSshdIsStartedByHand) {
    HostSnapshot h = debian(ssh_service("inactive", "dead", "enabled"));
    h.systemd_running = false;
    h.units.clear();
    EXPECT_EQ(run(refused(22), h).causes[0].fix, std::vector<std::string>{"start sshd: /usr/sbin/sshd"});
}

// ---- a start job queued behind another unit (a cloud VM booting: sshd After=cloud-init.service) ----

// ssh.service with a start job as the probe fills it (systemd 252's Job and Job.GetBefore).
SystemdUnit ssh_service_queued(std::vector<std::string> waiting_for, const char* state = "waiting") {
    SystemdUnit u = ssh_service("inactive", "dead", "enabled");
    u.journal.clear();  // not started yet this boot
    u.job_type = "start";
    u.job_state = state;
    u.waiting_for = std::move(waiting_for);
    return u;
}

TEST(DiagnoseSystemd, CloudVmWaitingForCloudInitIsNotStartedAgain) {
    auto d = run(refused(22), debian(ssh_service_queued({"cloud-init.service (start, running)"})));
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    const Cause& c = d.causes[0];
    EXPECT_EQ(c.fix, (std::vector<std::string>{
                         "ssh.service is waiting to start: it waits for cloud-init.service (start, running); "
                         "see what holds it: systemctl list-jobs",
                         "systemctl status cloud-init.service"}));
    EXPECT_EQ(count_containing(c.evidence,
                               "ssh.service: start job queued (waiting) behind cloud-init.service (start, running)"),
              1);
    EXPECT_FALSE(any_contains(c.fix, "systemctl start"));
    EXPECT_FALSE(any_contains(c.fix, "cancel"));
    EXPECT_FALSE(any_contains(c.fix, "kill"));
    EXPECT_TRUE(fixes_name_only(d, {"ssh.service"}));
}

TEST(DiagnoseSystemd, QueuedJobShowsTheRunningUnitItWaitsFor) {
    // The running job holds it now; the waiting one waits for something too.
    auto d = run(refused(22), debian(ssh_service_queued({"network-online.target (start, waiting)",
                                                         "cloud-init.service (start, running)"})));
    EXPECT_EQ(d.causes[0].fix, (std::vector<std::string>{
                                   "ssh.service is waiting to start: it waits for cloud-init.service (start, running), "
                                   "network-online.target (start, waiting); see what holds it: systemctl list-jobs",
                                   "systemctl status cloud-init.service"}));
}

TEST(DiagnoseSystemd, QueuedJobWithNothingKnownToWaitForListsTheJobs) {
    auto d = run(refused(22), debian(ssh_service_queued({})));
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    EXPECT_EQ(d.causes[0].fix, std::vector<std::string>{"systemctl list-jobs"});
    EXPECT_TRUE(any_contains(d.causes[0].evidence, "ssh.service: start job queued (waiting)"));
    // A job systemd named by id only: no unit to show.
    auto by_id = run(refused(22), debian(ssh_service_queued({"job 136 (start, running)"})));
    EXPECT_EQ(by_id.causes[0].fix, std::vector<std::string>{"systemctl list-jobs"});
    EXPECT_TRUE(fixes_name_only(d, {}));
}

TEST(DiagnoseSystemd, QueuedSocketStartIsNotStartedAgain) {
    HostSnapshot h = debian(ssh_service("inactive", "dead", "disabled"));
    SystemdUnit socket = ssh_socket("inactive", "enabled");
    socket.job_type = "start";
    socket.job_state = "waiting";
    socket.waiting_for = {"cloud-init.service (start, running)"};
    h.units.push_back(socket);
    auto d = run(refused(22), h);
    EXPECT_EQ(d.causes[0].fix, (std::vector<std::string>{
                                   "ssh.socket is waiting to start: it waits for cloud-init.service (start, running); "
                                   "see what holds it: systemctl list-jobs",
                                   "systemctl status cloud-init.service"}));
    EXPECT_TRUE(fixes_name_only(d, {"ssh.socket"}));
}

TEST(DiagnoseSystemd, NoQueuedStartKeepsTheOtherRules) {
    // No job, a running start job (activating now) or a stop job: the state decides as before.
    EXPECT_EQ(run(refused(22), debian(ssh_service("inactive", "dead", "enabled"))).causes[0].fix,
              std::vector<std::string>{"systemctl start ssh"});
    SystemdUnit activating = ssh_service("activating", "start-pre", "enabled");
    activating.job_type = "start";
    activating.job_state = "running";
    EXPECT_EQ(run(refused(22), debian(activating)).causes[0].fix, std::vector<std::string>{"systemctl restart ssh"});
    SystemdUnit stopping = ssh_service("inactive", "dead", "disabled");
    stopping.job_type = "stop";
    stopping.job_state = "waiting";
    EXPECT_EQ(run(refused(22), debian(stopping)).causes[0].fix, std::vector<std::string>{"systemctl enable --now ssh"});
    // Masked and start-limit come first.
    SystemdUnit masked = ssh_service_queued({"cloud-init.service (start, running)"});
    masked.load_state = masked.unit_file_state = "masked";
    EXPECT_EQ(run(refused(22), debian(masked)).causes[0].fix,
              (std::vector<std::string>{"systemctl unmask ssh", "systemctl enable --now ssh"}));
    SystemdUnit limited = ssh_service_queued({"cloud-init.service (start, running)"});
    limited.result = "start-limit-hit";
    EXPECT_EQ(run(refused(22), debian(limited)).causes[0].fix,
              std::vector<std::string>{"systemctl reset-failed ssh && systemctl start ssh"});
}

TEST(DiagnoseSystemd, ConfigErrorUnderAQueuedStartNeedsNoStartByHand) {
    HostSnapshot h = debian(ssh_service_queued({"cloud-init.service (start, running)"}));
    h.sshd_configs = {config_broken()};
    auto d = run(refused(22), h);
    EXPECT_EQ(d.causes[0].fix,
              (std::vector<std::string>{"fix /etc/ssh/sshd_config line 123: Bad configuration option: PermitRootLogn",
                                        "check it with: sshd -t",
                                        "then: ssh.service starts by itself when its queued start job runs "
                                        "(systemctl list-jobs)"}));
}

// ---- socket activation ----

TEST(DiagnoseSystemd, StoppedSocketIsStarted) {
    HostSnapshot h = debian(ssh_service("inactive", "dead", "disabled"));
    h.units.push_back(ssh_socket("inactive", "enabled"));
    auto d = run(refused(22), h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    EXPECT_EQ(d.causes[0].fix, std::vector<std::string>{"systemctl start ssh.socket"});
    EXPECT_TRUE(fixes_name_only(d, {"ssh.socket"}));
}

// Debian: ssh.socket on 22 (no generator), sshd_config's Port 2222, the client on 2222.
HostSnapshot socket_on(std::vector<std::string> listen, uint16_t listener_port, uint16_t config_port) {
    HostSnapshot h = debian(ssh_service("inactive", "dead", "disabled"),
                            {listener("::", listener_port, 1, "systemd")});
    h.units.push_back(ssh_socket("active", "enabled", listen));
    h.socket_units = {h.units.back()};
    h.sshd_configs = {config_ok({config_port})};
    return h;
}

TEST(DiagnoseSystemd, SocketOn22ConfigOn2222IsTheSocketsPort) {
    for (auto [client, server] : {std::pair{kClient4, kServer4}, std::pair{"2001:db8:5::1", "2001:db8:5::2"}}) {
        auto d = run(refused(2222, client, server), socket_on({"[::]:22"}, 22, 2222), {2222});
        ASSERT_EQ(codes(d), std::vector<std::string>{"listening-elsewhere"}) << server;
        const Cause& c = d.causes[0];
        std::string addr = server;
        std::string target = addr.find(':') != std::string::npos ? "[" + addr + "]:2222" : addr + ":2222";
        EXPECT_EQ(c.summary, "connections to " + target +
                                 " are refused: nothing listens on :2222; ssh.socket (systemd, pid 1) listens on :22");
        ASSERT_EQ(c.fix.size(), 3u);
        EXPECT_EQ(c.fix[0], "systemctl edit ssh.socket: add [Socket] ListenStream= then ListenStream=2222 (the empty one "
                            "clears :22)");
        EXPECT_EQ(c.fix[1], "then: systemctl daemon-reload && systemctl stop ssh.service && systemctl restart ssh.socket");
        EXPECT_EQ(c.fix[2], "or connect to the port ssh.socket listens on: ssh -p 22 user@" + addr);
        EXPECT_TRUE(any_contains(c.evidence, "ssh.socket: ListenStream [::]:22, Accept=no, starts ssh.service"));
        EXPECT_TRUE(any_contains(c.evidence, "ListenStream decides the port, not sshd_config's Port"));
        EXPECT_TRUE(any_contains(c.evidence, "port 2222"));  // sshd -T's
        EXPECT_TRUE(fixes_name_only(d, {"ssh.socket", "ssh.service", "sshd_config"}));
    }
}

TEST(DiagnoseSystemd, SocketMovedByADropInIsTheDropIns) {
    HostSnapshot h = socket_on({"[::]:2222"}, 2222, 22);
    h.units.back().drop_ins = {"/etc/systemd/system/ssh.socket.d/listen.conf"};
    h.socket_units = {h.units.back()};
    auto d = run(refused(22), h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"listening-elsewhere"});
    const Cause& c = d.causes[0];
    EXPECT_EQ(c.summary,
              "connections to 203.0.113.2:22 are refused: nothing listens on :22; ssh.socket (systemd, pid 1) listens on :2222");
    EXPECT_EQ(c.fix, (std::vector<std::string>{
                         "ssh.socket listens on :2222, set in its drop-in /etc/systemd/system/ssh.socket.d/listen.conf: "
                         "change ListenStream there to 22",
                         "then: systemctl daemon-reload && systemctl stop ssh.service && systemctl restart ssh.socket",
                         "or connect to the port ssh.socket listens on: ssh -p 2222 user@203.0.113.2"}));
    EXPECT_TRUE(any_contains(c.evidence, "drop-ins: /etc/systemd/system/ssh.socket.d/listen.conf"));
    EXPECT_TRUE(fixes_name_only(d, {"ssh.socket", "ssh.service", "sshd_config"}));
}

TEST(DiagnoseSystemd, SocketDropInsOfThePackageAreNotEditedNorReverted) {
    // A vendor drop-in (the package manager's) and two of the administrator's: only those two are
    // offered, with a way to find the one that sets ListenStream; never `systemctl revert`, which
    // deletes them all.
    HostSnapshot h = socket_on({"[::]:2222"}, 2222, 22);
    h.units.back().drop_ins = {"/usr/lib/systemd/system/ssh.socket.d/vendor.conf",
                               "/etc/systemd/system/ssh.socket.d/a.conf", "/etc/systemd/system/ssh.socket.d/port.conf"};
    h.socket_units = {h.units.back()};
    auto d = run(refused(22), h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"listening-elsewhere"});
    const Cause& c = d.causes[0];
    EXPECT_EQ(c.fix[0], "ssh.socket listens on :2222, set in one of its drop-ins /etc/systemd/system/ssh.socket.d/a.conf, "
                        "/etc/systemd/system/ssh.socket.d/port.conf: change ListenStream to 22 in the one that sets it "
                        "(grep -l ListenStream /etc/systemd/system/ssh.socket.d/a.conf "
                        "/etc/systemd/system/ssh.socket.d/port.conf)");
    EXPECT_FALSE(any_contains(c.fix, "vendor.conf"));
    EXPECT_FALSE(any_contains(c.fix, "revert"));

    // Only the package's drop-in: a new override of the administrator's own.
    h.units.back().drop_ins = {"/usr/lib/systemd/system/ssh.socket.d/vendor.conf"};
    h.socket_units = {h.units.back()};
    EXPECT_EQ(run(refused(22), h).causes[0].fix[0],
              "systemctl edit ssh.socket: add [Socket] ListenStream= then ListenStream=22 (the empty one clears :2222)");
}

TEST(DiagnoseSystemd, UbuntuGeneratorRewritesTheSocketAtReload) {
    // Ubuntu 24.04: sshd-socket-generator derives ListenStream from sshd_config at daemon-reload.
    HostSnapshot h = socket_on({"[::]:22"}, 22, 2222);
    h.os_id = "ubuntu";
    h.os_version_id = "24.04";
    h.sshd_socket_generator = "/usr/lib/systemd/system-generators/sshd-socket-generator";
    h.units.back().drop_ins = {"/run/systemd/generator/ssh.socket.d/addresses.conf"};
    auto d = run(refused(2222), h, {2222});
    ASSERT_EQ(codes(d), std::vector<std::string>{"listening-elsewhere"});
    EXPECT_EQ(d.causes[0].fix[0], "systemctl daemon-reload && systemctl restart ssh.socket");
    EXPECT_TRUE(any_contains(d.causes[0].evidence, "sshd-socket-generator rewrites ssh.socket's ListenStream"));
}

TEST(DiagnoseSystemd, ClassicDaemonElsewhereKeepsItsFix) {
    HostSnapshot h = debian(ssh_service("active", "running", "enabled"), {listener("0.0.0.0", 2222, 900, "sshd")});
    auto d = run(refused(22), h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"listening-elsewhere"});
    EXPECT_EQ(d.causes[0].fix[0], "connect to the port sshd uses: ssh -p 2222 user@203.0.113.2");
    EXPECT_EQ(d.causes[0].fix[1], "or set `Port 22` in /etc/ssh/sshd_config and systemctl restart ssh");
}

// ---- handshakes that completed, and who completed them ----

// ssh.socket active, ssh.service disabled, sshd_config broken: pid 1 accepts, every start fails,
// and seconds later the socket fails too (service-start-limit-hit) and stops listening.
TEST(DiagnoseSystemd, SocketAcceptsButEverySshdStartFails) {
    HostSnapshot before = socket_on({"[::]:22"}, 22, 22);
    HostSnapshot after = debian(ssh_service("failed", "failed", "disabled", "exit-code"));
    logged(after.units.back(), {"/etc/ssh/sshd_config: line 123: Bad configuration option: PermitRootLogn",
                                "ssh.service: Start request repeated too quickly."});
    after.units.push_back(ssh_socket("failed", "enabled", {"[::]:22"}, "service-start-limit-hit"));
    after.socket_units = {after.units.back()};
    after.sshd_configs = {config_broken()};
    auto d = run(handshake(22), after, {22}, {before});
    ASSERT_EQ(codes(d), std::vector<std::string>{"sshd-failing"});
    EXPECT_EQ(d.flows[0].verdict, "sshd-failing");
    const Cause& c = d.causes[0];
    EXPECT_EQ(c.summary, "the TCP handshake to 203.0.113.2:22 completes at ssh.socket (systemd, pid 1), but every "
                         "ssh.service start fails: /etc/ssh/sshd_config line 123: Bad configuration option: PermitRootLogn");
    EXPECT_EQ(c.fix, (std::vector<std::string>{
                         "fix /etc/ssh/sshd_config line 123: Bad configuration option: PermitRootLogn",
                         "check it with: sshd -t",
                         "then: systemctl reset-failed ssh.service ssh.socket && systemctl restart ssh.socket"}));
    EXPECT_TRUE(any_contains(c.evidence, "accepted by: ssh.socket (systemd, pid 1) on [::]:22"));
    EXPECT_TRUE(any_contains(c.evidence, "result service-start-limit-hit"));
    EXPECT_TRUE(fixes_name_only(d, {"sshd_config", "ssh.socket", "ssh.service", "reset-failed"}));

    // The socket still listening at the end: the same verdict from the latest snapshot alone.
    HostSnapshot still = after;
    still.listeners = before.listeners;
    EXPECT_EQ(codes(run(handshake(22), still)), std::vector<std::string>{"sshd-failing"});
}

TEST(DiagnoseSystemd, SocketActivatedSshdThatStartsIsAccepted) {
    // Debian's Accept=no: after the first connection sshd and pid 1 both hold the socket.
    HostSnapshot h = socket_on({"[::]:22"}, 22, 22);
    h.units[0] = ssh_service("active", "running", "disabled");
    h.listeners.push_back(listener("::", 22, 950, "sshd", "ssh.service"));
    auto d = run(handshake(22), h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"accepted"});
    EXPECT_NE(d.flows[0].detail.find("accepted by sshd (pid 950)"), std::string::npos) << d.flows[0].detail;
}

TEST(DiagnoseSystemd, HealthyIsAcceptedBySshd) {
    auto d = run(handshake(22), debian(ssh_service("active", "running", "enabled"),
                                       {listener("0.0.0.0", 22, 900, "sshd", "ssh.service"),
                                        listener("::", 22, 900, "sshd", "ssh.service")}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"accepted"});
    EXPECT_NE(d.flows[0].detail.find("accepted by sshd"), std::string::npos);
}

TEST(DiagnoseSystemd, AnotherProgramOnSshdsPortIsNotSshd) {
    SystemdUnit service = ssh_service("failed", "failed", "enabled", "exit-code");
    logged(service, {"error: Bind to port 22 on 0.0.0.0 failed: Address already in use.",
                  "error: Bind to port 22 on :: failed: Address already in use.",
                  "fatal: Cannot bind any address.",
                  "ssh.service: Main process exited, code=exited, status=255/EXCEPTION"});
    HostSnapshot h = debian(service, {listener("::", 22, 4686, "nc", "squatter.service")});
    auto d = run(handshake(22), h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"not-sshd"});
    const Cause& c = d.causes[0];
    EXPECT_EQ(c.summary, "port 22 is held by nc (pid 4686, squatter.service), not sshd: the handshake completes but no "
                         "SSH server answers");
    EXPECT_EQ(c.fix, (std::vector<std::string>{
                         "see what holds :22: systemctl status squatter.service (nc, pid 4686)",
                         "if sshd should have :22, stop it: systemctl stop squatter.service, then systemctl restart ssh",
                         "or give sshd a free port (its Port setting) and connect with ssh -p PORT user@203.0.113.2"}));
    EXPECT_TRUE(any_contains(c.evidence, "journal: "));
    EXPECT_TRUE(any_contains(c.evidence, "error: Bind to port 22 on 0.0.0.0 failed: Address already in use."));
    EXPECT_TRUE(fixes_name_only(d, {"squatter", "ssh.service"}));

    // Not in a unit (started from a shell): its pid.
    h.listeners[0].unit = "";
    auto shell = run(handshake(22), h).causes[0].fix;
    EXPECT_EQ(shell[0], "see what holds :22: ps -o user,pid,cmd -p 4686 (nc)");
    EXPECT_EQ(shell[1], "if it should not be there: kill 4686, then systemctl restart ssh");
}

TEST(DiagnoseSystemd, NotSshdStopsNoUserServiceNorSharedDaemon) {
    HostSnapshot h = debian(ssh_service("failed", "failed", "enabled", "exit-code"),
                            {listener("::", 22, 4686, "nc", "user@1000.service/app.slice/foo.service")});
    // A user's service: `systemctl stop foo.service` would act on the system manager.
    auto user = run(handshake(22), h);
    ASSERT_EQ(codes(user), std::vector<std::string>{"not-sshd"});
    EXPECT_EQ(user.causes[0].summary, "port 22 is held by nc (pid 4686, foo.service of user 1000), not sshd: the "
                                      "handshake completes but no SSH server answers");
    EXPECT_EQ(user.causes[0].fix[0], "see what holds :22: ps -o user,pid,cmd -p 4686 (nc, foo.service of user 1000)");
    EXPECT_FALSE(any_contains(user.causes[0].fix, "systemctl stop"));
    EXPECT_FALSE(any_contains(user.causes[0].fix, "kill"));

    // A process in docker.service's cgroup: stopping the unit stops every container with it.
    h.listeners[0].unit = "docker.service";
    auto docker = run(handshake(22), h);
    EXPECT_EQ(docker.causes[0].fix[0], "see what holds :22: systemctl status docker.service (nc, pid 4686)");
    EXPECT_EQ(docker.causes[0].fix[1], "docker.service runs more than nc: stop that program where it was started, not "
                                       "the unit (ps -o user,pid,cmd -p 4686)");
    EXPECT_FALSE(any_contains(docker.causes[0].fix, "systemctl stop"));
    // systemd's own services and sshd's unit (a session's processes where logind does not move them) too.
    for (const char* unit : {"systemd-resolved.service", "ssh.service", "containerd.service"}) {
        h.listeners[0].unit = unit;
        EXPECT_FALSE(any_contains(run(handshake(22), h).causes[0].fix, "systemctl stop")) << unit;
    }
}

TEST(DiagnoseSystemd, NotSshdRestartsTheSocketUnderSocketActivation) {
    // ssh.socket could not bind either: after the squatter goes, the socket is what listens again.
    HostSnapshot h = debian(ssh_service("inactive", "dead", "disabled"), {listener("::", 22, 4686, "nc", "squatter.service")});
    h.units.push_back(ssh_socket("failed", "enabled", {"[::]:22"}, "resources"));
    auto d = run(handshake(22), h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"not-sshd"});
    EXPECT_EQ(d.causes[0].fix[1],
              "if sshd should have :22, stop it: systemctl stop squatter.service, then systemctl restart ssh.socket");
}

TEST(DiagnoseSystemd, AnotherProgramWhereSshdIsNotExpectedIsAccepted) {
    // A database watched on its own port: the handshake is the whole question.
    HostSnapshot h = debian(ssh_service("active", "running", "enabled"), {listener("0.0.0.0", 5432, 700, "postgres")});
    auto d = run(handshake(5432), h, {5432});
    EXPECT_EQ(codes(d), std::vector<std::string>{"accepted"});
}

TEST(DiagnoseSystemd, DockerProxyOnTheWatchedPortIsAccepted) {
    Listener proxy = listener("0.0.0.0", 22, 3100, "docker-proxy", "docker.service");
    proxy.cmdline = "/usr/bin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 22 -container-ip 172.17.0.2 "
                    "-container-port 22";
    auto d = run(handshake(22), debian(ssh_service("inactive", "dead", "disabled"), {proxy}));
    ASSERT_EQ(codes(d), std::vector<std::string>{"accepted"});
    EXPECT_NE(d.flows[0].detail.find("docker-proxy (pid 3100) for container 172.17.0.2:22"), std::string::npos)
        << d.flows[0].detail;
}

// ---- the owners themselves ----

TEST(DiagnoseSystemd, Pid1IsTheSocketUnitListeningThere) {
    HostSnapshot h = socket_on({"[::]:22"}, 22, 22);
    SystemdUnit cups;
    cups.id = "cups.socket";
    cups.listen = {"0.0.0.0:631"};
    cups.triggers = {"cups.service"};
    h.socket_units.push_back(cups);
    auto ssh = owner_of(h.listeners[0], &h);
    EXPECT_EQ(ssh.kind, ListenerOwner::Kind::systemd_socket);
    EXPECT_EQ(ssh.name, "ssh.socket");
    EXPECT_TRUE(ssh.serves_sshd);
    EXPECT_EQ(describe_owner(h.listeners[0], ssh), "ssh.socket (systemd, pid 1)");
    auto other = owner_of(listener("0.0.0.0", 631, 1, "systemd"), &h);
    EXPECT_EQ(other.name, "cups.socket");
    EXPECT_FALSE(other.serves_sshd);
}

TEST(DiagnoseSystemd, ListenStreamForms) {
    SystemdUnit s;
    s.id = "ssh.socket";
    HostSnapshot h;
    for (const char* form : {"22", "*:22", "0.0.0.0:22", "[::]:22"}) {
        s.listen = {form};
        h.socket_units = {s};
        EXPECT_NE(socket_unit_on(&h, ip("::"), 22), nullptr) << form;
        EXPECT_EQ(socket_unit_on(&h, ip("::"), 2222), nullptr) << form;
    }
    s.listen = {"[::1]:22", "192.0.2.2:22"};
    h.socket_units = {s};
    EXPECT_NE(socket_unit_on(&h, ip("192.0.2.2"), 22), nullptr);
    EXPECT_EQ(listen_ports(s), std::vector<uint16_t>{22});
    s.listen = {"/run/ssh.sock", "[::]:", "x:99999"};
    EXPECT_TRUE(listen_ports(s).empty());
}

TEST(DiagnoseSystemd, SshUnitsByEveryName) {
    for (const char* name : {"ssh.service", "sshd.service", "ssh@.service", "sshd@.service"})
        EXPECT_TRUE(is_ssh_service_name(name)) << name;
    EXPECT_FALSE(is_ssh_service_name("sshguard.service"));
    SystemdUnit accept_yes;
    accept_yes.id = "sshd-vsock.socket";
    accept_yes.triggers = {"sshd@.service"};
    EXPECT_TRUE(socket_serves_sshd(accept_yes));
}

// ---- other SSH servers, masked units under socket activation, sshd -t's other errors ----

TEST(DiagnoseSystemd, AnotherSshServerOnSshdsPortIsAccepted) {
    HostSnapshot h = debian(ssh_service("inactive", "dead", "disabled"),
                            {listener("0.0.0.0", 22, 700, "dropbear", "dropbear.service")});
    auto d = run(handshake(22), h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"accepted"});
    EXPECT_NE(d.flows[0].detail.find("accepted by dropbear (pid 700, dropbear.service) on 0.0.0.0:22 (Dropbear SSH server)"),
              std::string::npos)
        << d.flows[0].detail;
    EXPECT_TRUE(any_contains(d.causes[0].evidence, "not OpenSSH's sshd"));
    EXPECT_TRUE(d.causes[0].fix.empty());

    // tinysshd.socket (Accept=yes, tinysshd@.service per connection): pid 1 holds it for an SSH server.
    HostSnapshot t = debian(ssh_service("inactive", "dead", "disabled"), {listener("::", 22, 1, "systemd")});
    SystemdUnit tiny;
    tiny.id = tiny.name = "tinysshd.socket";
    tiny.active_state = "active";
    tiny.listen = {"[::]:22"};
    tiny.accept = true;
    tiny.triggers = {"tinysshd@.service"};
    t.socket_units = {tiny};
    EXPECT_EQ(codes(run(handshake(22), t)), std::vector<std::string>{"accepted"});
    // A socket unit we cannot place is not accused either.
    tiny.id = tiny.name = "gateway.socket";
    tiny.triggers = {"gateway@.service"};
    t.socket_units = {tiny};
    EXPECT_EQ(codes(run(handshake(22), t)), std::vector<std::string>{"accepted"});
}

TEST(DiagnoseSystemd, MaskedServiceUnderSocketActivationIsUnmaskedFirst) {
    // Ubuntu >= 22.10: ssh.socket enabled, ssh.service masked. The socket accepts, pid 1 refuses to
    // start a masked service, and the socket fails: starting the socket alone changes nothing.
    HostSnapshot h = debian(ssh_service("inactive", "dead", "masked"));
    h.units.push_back(ssh_socket("failed", "enabled", {"[::]:22"}, "service-start-limit-hit"));
    auto d = run(refused(22), h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    EXPECT_EQ(d.causes[0].fix, (std::vector<std::string>{
                                   "systemctl unmask ssh",
                                   "systemctl reset-failed ssh.socket && systemctl start ssh.socket"}));
    // The socket disabled: the service itself, as on Debian.
    h.units.back() = ssh_socket("inactive", "disabled");
    EXPECT_EQ(run(refused(22), h).causes[0].fix,
              (std::vector<std::string>{"systemctl unmask ssh", "systemctl enable --now ssh"}));
}

TEST(DiagnoseSystemd, TemplateUnitIsNeverTheServiceToStart) {
    // Accept=yes: ssh.socket starts ssh@.service per connection; there is no ssh.service to start.
    SystemdUnit tmpl;
    tmpl.id = tmpl.name = "ssh@.service";
    tmpl.load_state = "loaded";
    tmpl.active_state = "inactive";
    tmpl.unit_file_state = "static";
    HostSnapshot h = debian(tmpl);
    h.units.push_back(ssh_socket("inactive", "enabled"));
    h.units.back().accept = true;
    h.units.back().triggers = {"ssh@.service"};
    auto d = run(refused(22), h);
    EXPECT_EQ(d.causes[0].fix, std::vector<std::string>{"systemctl start ssh.socket"});
    EXPECT_FALSE(any_contains(d.causes[0].fix, "ssh@"));
}

TEST(DiagnoseSystemd, MissingHostKeysAreGeneratedNotAConfigEdit) {
    SystemdUnit service = ssh_service("failed", "failed", "enabled", "exit-code");
    logged(service, {"sshd: no hostkeys available -- exiting.",
                     "ssh.service: Control process exited, code=exited, status=1/FAILURE",
                     "ssh.service: Failed with result 'exit-code'."});
    HostSnapshot h = debian(service);
    h.sshd_configs[0] = config_failing("sshd: no hostkeys available -- exiting.");
    auto d = run(refused(22), h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"no-listener"});
    EXPECT_EQ(d.causes[0].fix,
              (std::vector<std::string>{"generate the host keys: ssh-keygen -A", "then: systemctl start ssh"}));
    EXPECT_TRUE(fixes_name_only(d, {}));  // no sshd_config edit

    // sshd -t could not check (no /run/sshd): the journal's words give the same fix.
    h.sshd_configs[0].error = "";
    h.sshd_configs[0].checked_with = "not checked: sshd refuses to read its config while /run/sshd is missing";
    EXPECT_EQ(run(refused(22), h).causes[0].fix[0], "generate the host keys: ssh-keygen -A");
    // ... unless sshd got as far as its privilege separation directory: keys and user were fine.
    h.sshd_configs[0].error = "Missing privilege separation directory: /run/sshd";
    EXPECT_EQ(run(refused(22), h).causes[0].fix, std::vector<std::string>{"systemctl start ssh"});
}

TEST(DiagnoseSystemd, SshdTErrorsOtherThanTheFileGetTheirOwnFix) {
    HostSnapshot h = debian(ssh_service("failed", "failed", "enabled", "exit-code"));
    h.sshd_configs[0] = config_failing("Privilege separation user sshd does not exist");
    EXPECT_EQ(run(refused(22), h).causes[0].fix[0],
              "the sshd user is missing: reinstall openssh-server: apt-get install --reinstall openssh-server");
    h.os_id = "fedora";
    EXPECT_EQ(run(refused(22), h).causes[0].fix[0],
              "the sshd user is missing: reinstall the OpenSSH server package (its install creates the user)");
    // Anything else: quoted, with no edit instruction.
    h.sshd_configs[0].error = "fatal: something sshd says";
    auto d = run(refused(22), h);
    EXPECT_EQ(d.causes[0].fix[0], "sshd -t says: fatal: something sshd says — inspect it: sshd -t");
    EXPECT_FALSE(any_contains(d.causes[0].fix, "fix /etc/ssh/sshd_config"));
    // The file's own errors stay config errors, in either of sshd's wordings.
    h.sshd_configs[0].error = "/etc/ssh/sshd_config: terminating, 1 bad configuration options";
    EXPECT_EQ(run(refused(22), h).causes[0].fix[0], "fix /etc/ssh/sshd_config: terminating, 1 bad configuration options");
}

TEST(DiagnoseSystemd, SocketBoundToOneFamilyIsTheSocketsListenStream) {
    // ssh.socket on 0.0.0.0:22 only, the client over IPv6: sshd_config's ListenAddress would change nothing.
    HostSnapshot h = socket_on({"0.0.0.0:22"}, 22, 22);
    h.listeners[0].addr = ip("0.0.0.0");
    auto d = run(refused(22, "2001:db8:5::1", "2001:db8:5::2"), h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"bound-other-address"});
    std::vector<std::string> expected = {
        "systemctl edit ssh.socket: add [Socket] ListenStream= then ListenStream=22 (the empty one clears 0.0.0.0:22)",
        "then: systemctl daemon-reload && systemctl stop ssh.service && systemctl restart ssh.socket"};
    EXPECT_EQ(d.causes[0].fix, expected);
    EXPECT_TRUE(fixes_name_only(d, {"ssh.socket", "ssh.service"}));

    // Debian's Accept=no hand-over: sshd holds the socket too, the socket still decides.
    h.units[0] = ssh_service("active", "running", "disabled");
    h.listeners.push_back(listener("0.0.0.0", 22, 950, "sshd", "ssh.service"));
    EXPECT_EQ(run(refused(22, "2001:db8:5::1", "2001:db8:5::2"), h).causes[0].fix, expected);

    // Ubuntu's generator writes ListenStream from sshd_config.
    h.sshd_socket_generator = "/usr/lib/systemd/system-generators/sshd-socket-generator";
    auto ubuntu = run(refused(22, "2001:db8:5::1", "2001:db8:5::2"), h);
    EXPECT_EQ(ubuntu.causes[0].fix[0].rfind("remove ListenAddress from /etc/ssh/sshd_config", 0), 0u)
        << ubuntu.causes[0].fix[0];
    EXPECT_TRUE(any_contains(ubuntu.causes[0].fix, "systemctl daemon-reload && systemctl restart ssh.socket"));
}

TEST(DiagnoseSystemd, ContainerSshdIsPublishedBesideTheHostsOwn) {
    // The host's own sshd has :22 (its unit and sshd_config): the container's goes beside it.
    HostSnapshot h = debian(ssh_service("inactive", "dead", "enabled"));
    ForeignListener f;
    f.netns = 4026532999;
    f.container = "docker 3f2a1b9c0d4e";
    f.listener = listener("0.0.0.0", 22, 4242, "sshd");
    h.other_netns_listeners = {f};
    auto d = run(refused(22), h);
    ASSERT_EQ(codes(d), std::vector<std::string>{"other-netns"});
    EXPECT_EQ(d.causes[0].fix[0], "publish it beside the host's own sshd: docker run -p 2222:22 … then ssh -p 2222 (or "
                                  "a DNAT rule to the container's address)");
}

TEST(DiagnoseSystemd, RestartCommandKnowsSocketActivation) {
    EXPECT_EQ(restart_sshd_command(nullptr), "start sshd: /usr/sbin/sshd");
    HostSnapshot h = debian(ssh_service("active", "running", "enabled"));
    EXPECT_EQ(restart_sshd_command(&h), "systemctl restart ssh");
    // The socket starts sshd: restart it, stopping the service it started first (else systemd refuses).
    HostSnapshot s = socket_on({"[::]:22"}, 22, 22);
    EXPECT_EQ(restart_sshd_command(&s), "systemctl restart ssh.socket");
    s.units[0] = ssh_service("active", "running", "disabled");
    EXPECT_EQ(restart_sshd_command(&s), "systemctl stop ssh.service && systemctl restart ssh.socket");
    // No systemd: the running daemon re-reads its config on SIGHUP.
    h.systemd_running = false;
    h.sshd_processes = {SshdProcess{900, 1, "/usr/sbin/sshd", "/usr/sbin/sshd -D", "/etc/ssh/sshd_config", true}};
    EXPECT_EQ(restart_sshd_command(&h), "restart sshd: kill -HUP 900");
}
