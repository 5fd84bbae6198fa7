// The owner tables: who made a firewall rule, who serves a listening socket.
#include <gtest/gtest.h>

#include "diagnosis/diagnose.h"
#include "diagnosis/owners/listener_owners.h"
#include "diagnosis/owners/rule_owners.h"

using namespace synwhy;

namespace {

FirewallRule nft_rule(const char* family, const char* table, const char* chain, std::vector<std::string> path = {},
                      uint64_t handle = 7) {
    FirewallRule r;
    r.backend = "nftables";
    r.family = family;
    r.table = table;
    r.chain = chain;
    r.path = std::move(path);
    r.handle = handle;
    r.verdict = "drop";
    return r;
}

IpAddr client() { return *IpAddr::parse("192.0.2.1"); }

std::vector<std::string> owner_names(const FirewallRule& r) {
    std::vector<std::string> names;
    for (const RuleOwner* o : owners_of(r)) names.push_back(o->name);
    return names;
}

Listener listener(const char* comm, int pid, const char* exe = "") {
    Listener l;
    l.addr = *IpAddr::parse("0.0.0.0");
    l.port = 22;
    l.comm = comm;
    l.pid = pid;
    l.exe = exe;
    return l;
}

}  // namespace

TEST(RuleOwners, UfwByChain) {
    auto r = nft_rule("ip", "filter", "ufw-user-input", {"INPUT"}, 12);
    EXPECT_EQ(owner_names(r), std::vector<std::string>{"ufw"});
    // ufw would fight a raw delete: its own command only.
    auto fix = rule_fix(r, 22, client(), nullptr);
    EXPECT_EQ(fix.front(), "ufw allow 22/tcp");
    for (const auto& line : fix) EXPECT_EQ(line.find("nft "), std::string::npos) << line;
}

TEST(RuleOwners, UfwByPath) {
    // A rule in a chain of its own name, reached only through ufw's chains: still ufw's, and
    // jumped to from before6.rules, which an allow does not reach.
    auto r = nft_rule("ip6", "filter", "custom", {"INPUT", "ufw6-before-input"}, 4);
    EXPECT_EQ(owner_names(r), std::vector<std::string>{"ufw"});
    EXPECT_EQ(rule_fix(r, 2222, client(), nullptr),
              std::vector<std::string>{"see /etc/ufw/before6.rules (the rule in ufw6-before-input that drops it), "
                                       "change it there, then: ufw reload"});
    // Through a user chain: the allow.
    auto user = nft_rule("ip", "filter", "custom", {"INPUT", "ufw-before-input", "ufw-user-input"}, 5);
    EXPECT_EQ(rule_fix(user, 2222, client(), nullptr).front(), "ufw allow 2222/tcp");
}

TEST(RuleOwners, FirewalldByTable) {
    auto r = nft_rule("inet", "firewalld", "filter_IN_public", {"filter_INPUT"}, 0);
    r.policy = true;
    EXPECT_EQ(owner_names(r), std::vector<std::string>{"firewalld"});
    // The zone from the chain; no raw nft line: firewalld rewrites its table on every reload.
    EXPECT_EQ(rule_fix(r, 22, client(), nullptr),
              std::vector<std::string>{"firewall-cmd --permanent --zone=public --add-service=ssh && firewall-cmd --reload"});
}

TEST(RuleOwners, PlainNftRuleHasNoOwner) {
    auto r = nft_rule("inet", "filter", "input", {}, 3);
    EXPECT_TRUE(owners_of(r).empty());
    EXPECT_EQ(rule_fix(r, 22, client(), nullptr), std::vector<std::string>{"nft delete rule inet filter input handle 3"});
}

TEST(RuleOwners, EveryEntryIsComplete) {
    for (const auto& o : rule_owners()) {
        EXPECT_NE(o.name, nullptr);
        EXPECT_NE(o.matches, nullptr) << o.name;
        // Every owner says something to do: its row's line or its own advice.
        EXPECT_TRUE(o.advise != nullptr || o.fix != nullptr) << o.name;
        // Only DOCKER-USER holds the administrator's own rules; every other manager would
        // revert, or be bypassed by, a raw nft/iptables edit.
        EXPECT_EQ(o.admin_owned, std::string(o.name) == "docker-user") << o.name;
    }
}

TEST(ListenerOwners, SshdByComm) {
    auto o = owner_of(listener("sshd", 812));
    EXPECT_EQ(o.kind, ListenerOwner::Kind::sshd);
    EXPECT_EQ(o.name, "sshd");
}

TEST(ListenerOwners, SshdByExe) {
    // A renamed comm (a wrapper, `sshd: /usr/sbin/sshd -D [listener]`) but sshd's binary.
    auto o = owner_of(listener("sshd-session", 813, "/usr/sbin/sshd"));
    EXPECT_EQ(o.kind, ListenerOwner::Kind::sshd);
    EXPECT_EQ(owner_of(listener("sshdx", 814, "/usr/local/bin/not-sshd")).kind, ListenerOwner::Kind::other);
}

TEST(ListenerOwners, SystemdPid1IsSocketActivation) {
    auto o = owner_of(listener("systemd", 1, "/usr/lib/systemd/systemd"));
    EXPECT_EQ(o.kind, ListenerOwner::Kind::systemd_socket);
    EXPECT_EQ(o.name, "systemd");
    // A user's systemd (not pid 1) is not the system's socket activation.
    EXPECT_EQ(owner_of(listener("systemd", 1200)).kind, ListenerOwner::Kind::other);
}

TEST(ListenerOwners, DockerProxy) {
    auto o = owner_of(listener("docker-proxy", 3100, "/usr/bin/docker-proxy"));
    EXPECT_EQ(o.kind, ListenerOwner::Kind::proxy);
    EXPECT_EQ(o.name, "docker-proxy");
    EXPECT_FALSE(o.description.empty());
}

TEST(ListenerOwners, UnknownProgram) {
    auto o = owner_of(listener("python3", 4242, "/usr/bin/python3.11"));
    EXPECT_EQ(o.kind, ListenerOwner::Kind::other);
    EXPECT_EQ(o.name, "python3");
}

TEST(ListenerOwners, NoProcess) {
    EXPECT_EQ(owner_of(listener("", 0)).kind, ListenerOwner::Kind::none);
}

TEST(ListenerOwners, KnownSshServersAnswerSsh) {
    for (const char* comm : {"dropbear", "tinysshd", "gitea", "forgejo", "gitlab-sshd", "teleport", "sshpiperd"}) {
        auto o = owner_of(listener(comm, 700));
        EXPECT_EQ(o.kind, ListenerOwner::Kind::ssh_server) << comm;
        EXPECT_TRUE(o.serves_ssh) << comm;
        EXPECT_FALSE(o.serves_sshd) << comm;
        EXPECT_FALSE(o.description.empty()) << comm;
    }
    // By its binary when comm was renamed.
    EXPECT_EQ(owner_of(listener("gitea-main", 701, "/usr/local/bin/gitea")).kind, ListenerOwner::Kind::ssh_server);
    EXPECT_EQ(owner_of(listener("nc", 702, "/usr/bin/nc.openbsd")).kind, ListenerOwner::Kind::other);
}

TEST(ListenerOwners, HolderUnitOfTheListenersCgroup) {
    Listener l = listener("nc", 4686);
    EXPECT_EQ(holder_unit(l).kind, HolderUnit::Kind::none);
    l.unit = "squatter.service";
    auto system = holder_unit(l);
    EXPECT_EQ(system.kind, HolderUnit::Kind::system_service);
    EXPECT_EQ(system.name, "squatter.service");
    EXPECT_FALSE(system.shared_daemon);
    l.unit = "user@1000.service/app.slice/foo.service";
    auto user = holder_unit(l);
    EXPECT_EQ(user.kind, HolderUnit::Kind::user_service);
    EXPECT_EQ(user.name, "foo.service");
    EXPECT_EQ(user.uid, "1000");
    l.unit = "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service";  // a whole cgroup path
    EXPECT_EQ(holder_unit(l).kind, HolderUnit::Kind::user_service);
    l.unit = "session-3.scope";
    EXPECT_EQ(holder_unit(l).kind, HolderUnit::Kind::other);
    for (const char* daemon : {"docker.service", "containerd.service", "systemd-resolved.service", "dbus.service",
                               "ssh.service", "user@1000.service"}) {
        l.unit = daemon;
        EXPECT_TRUE(holder_unit(l).shared_daemon) << daemon;
    }
}
