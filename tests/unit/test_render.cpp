// Renderers: the JSON contract's shape and terminal-safe text.
#include <gtest/gtest.h>

#include "diagnosis/diagnose.h"
#include "render/render.h"

using namespace synwhy;

namespace {
Diagnosis sample() {
    Diagnosis d;
    Flow f;
    f.src = *IpAddr::parse("192.0.2.1");
    f.dst = *IpAddr::parse("192.0.2.2");
    f.sport = 40000;
    f.dport = 22;
    f.syns = 1;
    f.verdict = "firewall-drop";
    f.detail = "dropped by nftables inet t input handle 3: tcp dport 22 drop comment \"evil\n\x1b[2Jline\"";
    FirewallRule r;
    r.backend = "nftables";
    r.family = "inet";
    r.table = "t";
    r.chain = "input";
    r.handle = 3;
    r.comment = "evil\n\x1b[2Jline";
    f.rule = r;
    d.flows.push_back(f);
    d.causes.push_back({"firewall-drop", 1, "a firewall rule drops SYNs", {"e1"}, {"nft delete rule inet t input handle 3"}, r});
    d.syns_seen = 1;
    return d;
}
}  // namespace

TEST(Render, PrintableEscapesControlsAndEscapes) {
    EXPECT_EQ(printable("sshd"), "sshd");
    EXPECT_EQ(printable("a\nb"), "a\\x0ab");
    EXPECT_EQ(printable("\x1b[31mred"), "\\x1b[31mred");
    EXPECT_EQ(printable("back\\slash"), "back\\\\slash");
}

TEST(Render, TextReportCannotBeForgedByAComment) {
    ReportContext ctx;
    ctx.ports = {22};
    std::string text = report_text(sample(), ctx);
    EXPECT_EQ(text.find('\x1b'), std::string::npos);
    EXPECT_EQ(text.find("\nline"), std::string::npos);
    EXPECT_NE(text.find("\\x1b[2J"), std::string::npos);
    // The verdict comes right after the header line.
    auto second_para = text.find("\n\n");
    ASSERT_NE(second_para, std::string::npos);
    EXPECT_EQ(text.compare(second_para + 2, 26, "a firewall rule drops SYNs"), 0);
}

TEST(Render, JsonContract) {
    ReportContext ctx;
    ctx.ports = {22};
    HostSnapshot h;
    Listener l;
    l.addr = *IpAddr::parse("::");
    l.port = 22;
    l.pid = 812;
    l.comm = "sshd";
    h.listeners.push_back(l);
    ctx.hosts.push_back(h);
    auto j = report_json(sample(), ctx);
    EXPECT_EQ(j["ports"], nlohmann::json::array({22}));
    EXPECT_EQ(j["syns_seen"], 1);
    const auto& f = j["flows"][0];
    for (const char* k : {"src", "sport", "dst", "dport", "family", "syns", "verdict", "detail", "ts", "netns"})
        EXPECT_TRUE(f.contains(k)) << k;
    EXPECT_EQ(f["family"], "ipv4");
    EXPECT_EQ(f["rule"]["handle"], 3);
    EXPECT_FALSE(f["rule"].contains("rule_num"));
    const auto& c = j["causes"][0];
    for (const char* k : {"code", "flows", "summary", "evidence", "fix", "rule"}) EXPECT_TRUE(c.contains(k)) << k;
    const auto& listener = j["host"]["listeners"][0];
    EXPECT_EQ(listener["addr"], "::");
    EXPECT_EQ(listener["family"], "ipv6");
    EXPECT_EQ(listener["comm"], "sshd");
    // nlohmann escapes control characters: the output stays one parseable document.
    EXPECT_EQ(nlohmann::json::parse(j.dump())["causes"][0]["rule"]["comment"], "evil\n\x1b[2Jline");
}
