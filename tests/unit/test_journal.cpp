// watch's journal entries: the fields an operator filters on, their priority, who owns the fate,
// and when stdout is the journal.
#include <gtest/gtest.h>
#include <syslog.h>

#include "diagnosis/diagnose.h"
#include "diagnosis/owners/flow_owner.h"
#include "render/journal.h"

using namespace synwhy;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

Flow flow(const char* verdict, uint16_t port = 22) {
    Flow f;
    f.family = Family::ipv4;
    f.src = ip("203.0.113.1");
    f.dst = ip("203.0.113.2");
    f.sport = 41000;
    f.dport = port;
    f.netns = 4026532258;
    f.ifname = "host0";
    f.syns = 2;
    f.verdict = verdict;
    f.detail = "the detail line";
    return f;
}

FirewallRule nft(const char* family, const char* table, const char* chain, std::vector<std::string> path,
                 uint64_t handle, const char* verdict, bool policy = false) {
    FirewallRule r;
    r.backend = "nftables";
    r.family = family;
    r.table = table;
    r.chain = chain;
    r.path = std::move(path);
    r.handle = handle;
    r.verdict = verdict;
    r.policy = policy;
    r.text = policy ? "" : "ip saddr 203.0.113.1 reject";
    return r;
}

HostSnapshot host() {
    HostSnapshot h;
    h.netns = 4026532258;
    h.addresses = {ip("203.0.113.2")};
    h.systemd_running = true;
    return h;
}

SystemdUnit unit(const char* id, const char* active, std::vector<std::string> listen = {}) {
    SystemdUnit u;
    u.id = u.name = id;
    u.load_state = "loaded";
    u.active_state = active;
    u.sub_state = std::string(active) == "active" ? "running" : "dead";
    u.unit_file_state = "enabled";
    u.listen = std::move(listen);
    if (!u.listen.empty()) u.triggers = {"ssh.service"};
    return u;
}

Listener listener(const char* comm, int pid) {
    Listener l;
    l.addr = ip("0.0.0.0");
    l.port = 22;
    l.comm = comm;
    l.pid = pid;
    l.backlog = 128;
    return l;
}

std::string field(const JournalEntry& e, const char* name) {
    const std::string* v = e.find(name);
    return v ? *v : "<absent>";
}

}  // namespace

TEST(Journal, FlowEntryCarriesTheFieldsOperatorsFilterOn) {
    Flow f = flow(cause::firewall_reject);
    f.rule = nft("inet", "f2b-table", "f2b-chain", {"input"}, 9, "reject");
    JournalEntry e = flow_journal_entry(f, "12:00:00.000  203.0.113.1:41000 -> ...", "", "fail2ban");
    EXPECT_EQ(field(e, "MESSAGE"), "12:00:00.000  203.0.113.1:41000 -> ...");
    EXPECT_EQ(field(e, "PRIORITY"), std::to_string(LOG_WARNING));
    EXPECT_EQ(field(e, "SYNWHY_VERDICT"), "firewall-reject");
    EXPECT_EQ(field(e, "SYNWHY_CAUSE"), "the detail line");
    EXPECT_EQ(field(e, "SYNWHY_CLIENT"), "203.0.113.1");
    EXPECT_EQ(field(e, "SYNWHY_PORT"), "22");
    EXPECT_EQ(field(e, "SYNWHY_NETNS"), "4026532258");
    EXPECT_EQ(field(e, "SYNWHY_OWNER"), "fail2ban");
    EXPECT_EQ(field(e, "SYNWHY_RULE"), describe_rule(*f.rule));
    EXPECT_EQ(field(e, "SYNWHY_RULE_TEXT"), "ip saddr 203.0.113.1 reject");
    EXPECT_EQ(field(e, "SYNWHY_NETNS_NAME"), "<absent>");  // the caller's own namespace
    // Field names journald accepts: upper case, digits and '_', not starting with '_'.
    for (const auto& [name, value] : e.fields) {
        EXPECT_FALSE(name.empty() || name[0] == '_') << name;
        EXPECT_EQ(name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"), std::string::npos) << name;
    }
}

TEST(Journal, AcceptedFlowHasNoRuleAndInfoPriority) {
    JournalEntry e = flow_journal_entry(flow(cause::accepted), "line", "swt1-srv", "sshd");
    EXPECT_EQ(field(e, "PRIORITY"), std::to_string(LOG_INFO));
    EXPECT_EQ(field(e, "SYNWHY_RULE"), "<absent>");
    EXPECT_EQ(field(e, "SYNWHY_NETNS_NAME"), "swt1-srv");
    EXPECT_EQ(field(e, "SYNWHY_OWNER"), "sshd");
}

TEST(Journal, PriorityBySeverity) {
    EXPECT_EQ(journal_priority(cause::accepted), LOG_INFO);
    EXPECT_EQ(journal_priority(cause::unanswered), LOG_NOTICE);
    EXPECT_EQ(journal_priority(cause::handshake_incomplete), LOG_NOTICE);
    EXPECT_EQ(journal_priority(cause::no_listener), LOG_WARNING);
    EXPECT_EQ(journal_priority(cause::firewall_drop), LOG_WARNING);
    EXPECT_EQ(journal_priority(cause::sshd_failing), LOG_ERR);
}

TEST(Journal, StdoutIsTheJournalOnlyWhenJournalStreamNamesIt) {
    EXPECT_TRUE(is_journal_stream("8:12345", 8, 12345));
    EXPECT_FALSE(is_journal_stream("8:12345", 8, 12346));  // stdout redirected elsewhere by the unit's command
    EXPECT_FALSE(is_journal_stream(nullptr, 8, 12345));
    EXPECT_FALSE(is_journal_stream("", 8, 12345));
    EXPECT_FALSE(is_journal_stream("8:12345x", 8, 12345));
    EXPECT_FALSE(is_journal_stream("8", 8, 12345));
}

TEST(FlowOwner, TheRulesManager) {
    Flow f = flow(cause::firewall_reject);
    f.rule = nft("inet", "f2b-table", "f2b-chain", {"input"}, 9, "reject");
    EXPECT_EQ(flow_owner(f, nullptr), "fail2ban");
    Flow ufw = flow(cause::firewall_drop);
    ufw.rule = nft("ip", "filter", "ufw-user-input", {"INPUT"}, 12, "drop");
    EXPECT_EQ(flow_owner(ufw, nullptr), "ufw");
    // The administrator's own table: nobody to name.
    Flow own = flow(cause::firewall_drop);
    own.rule = nft("inet", "mytable", "input", {}, 3, "drop");
    EXPECT_EQ(flow_owner(own, nullptr), "");
}

TEST(FlowOwner, TheListenersHolder) {
    HostSnapshot h = host();
    h.listeners = {listener("sshd", 812)};
    EXPECT_EQ(flow_owner(flow(cause::accepted), &h), "sshd");
    EXPECT_EQ(flow_owner(flow(cause::listen_overflow), &h), "sshd");
    // A drop without its rule (--passive, --all-netns) is not the listener's doing.
    for (const char* v : {cause::firewall_drop, cause::firewall_reject, cause::reply_dropped, cause::kernel_drop})
        EXPECT_EQ(flow_owner(flow(v), &h), "") << v;
}

TEST(FlowOwner, NothingListensTheUnitThatShould) {
    HostSnapshot h = host();
    h.units = {unit("ssh.service", "inactive")};
    EXPECT_EQ(flow_owner(flow(cause::no_listener), &h), "ssh.service");
    // Socket activation: the socket unit that holds (or should hold) port 22.
    // A socket unit that is neither listening nor enabled (Debian's ssh.socket, unused): the service.
    SystemdUnit socket = unit("ssh.socket", "inactive", {"[::]:22"});
    socket.unit_file_state = "disabled";
    h.units.push_back(socket);
    h.socket_units = {socket};
    EXPECT_EQ(flow_owner(flow(cause::no_listener), &h), "ssh.service");
    // Socket activation: the socket unit in charge of port 22 (enabled, or failed).
    h.units.back().unit_file_state = h.socket_units.back().unit_file_state = "enabled";
    EXPECT_EQ(flow_owner(flow(cause::no_listener), &h), "ssh.socket");
    h.units.back().unit_file_state = h.socket_units.back().unit_file_state = "disabled";
    h.units.back().active_state = h.socket_units.back().active_state = "failed";
    EXPECT_EQ(flow_owner(flow(cause::no_listener), &h), "ssh.socket");
    // A port sshd is not expected on: nobody's.
    EXPECT_EQ(flow_owner(flow(cause::no_listener, 5432), &h), "");
}

TEST(Journal, ListenerEntryCarriesPortAddressNamespaceAndProcess) {
    Event change;
    change.kind = EventKind::listen_change;
    change.dst = ip("0.0.0.0");
    change.dport = 22;
    change.netns = 4026531840;
    change.pid = 812;
    change.comm = "sshd";
    JournalEntry e = listener_journal_entry(change, false, "sshd (pid 812) stopped listening on 0.0.0.0:22");
    EXPECT_EQ(field(e, "SYNWHY_EVENT"), "listen-stop");
    EXPECT_EQ(field(e, "PRIORITY"), std::to_string(LOG_WARNING));
    EXPECT_EQ(field(e, "SYNWHY_PORT"), "22");
    EXPECT_EQ(field(e, "SYNWHY_SERVER"), "0.0.0.0");
    EXPECT_EQ(field(e, "SYNWHY_NETNS"), "4026531840");
    EXPECT_EQ(field(e, "SYNWHY_PID"), "812");
    EXPECT_EQ(field(e, "SYNWHY_COMM"), "sshd");
    EXPECT_EQ(field(listener_journal_entry(change, true, "x"), "SYNWHY_EVENT"), "listen-start");
}
