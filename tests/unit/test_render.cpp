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
    // The verdict is the first line.
    EXPECT_EQ(text.rfind("A firewall rule drops SYNs\n", 0), 0u) << text;
}

TEST(Render, PrintableEscapesC1ControlsAndInvalidUtf8ButKeepsUtf8) {
    EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");          // é stays
    EXPECT_EQ(printable("\xc2\x9b" "2J"), "\\xc2\\x9b2J");        // U+009B is CSI on many terminals
    EXPECT_EQ(printable("\xff\xfe"), "\\xff\\xfe");              // not UTF-8
    EXPECT_EQ(printable("\xe2\x82"), "\\xe2\\x82");              // truncated sequence
    EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");              // overlong '/'
}

TEST(Render, TextFitsEightyColumnsExceptCommandsAndColorsOnlyWhenAsked) {
    Diagnosis d = sample();
    d.causes[0].evidence.push_back(std::string(30, 'x') + " " + std::string(30, 'y') + " " + std::string(30, 'z'));
    ReportContext ctx;
    ctx.ports = {22};
    std::string text = report_text(d, ctx);
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        std::string line = text.substr(start, end - start);
        if (line.find("fix: ") == std::string::npos) EXPECT_LE(line.size(), 80u) << line;
        start = end + 1;
    }
    EXPECT_EQ(text.find('\x1b'), std::string::npos);
    TextStyle color;
    color.color = true;
    std::string colored = report_text(d, ctx, color);
    EXPECT_EQ(colored.rfind("\x1b[1;31mA firewall rule drops SYNs\x1b[0m\n", 0), 0u) << colored;
}

TEST(Render, VerdictLineNamesSshOnItsPort) {
    Diagnosis d;
    d.causes.push_back({"no-listener", 1, "connections to 192.0.2.2:22 are refused: nothing listens on port 22", {}, {}, {}});
    ReportContext ctx;
    ctx.ports = {22};
    EXPECT_EQ(verdict_line(d, ctx), "SSH connections to 192.0.2.2:22 are refused: nothing listens on port 22");
    ctx.ports = {80};
    EXPECT_EQ(verdict_line(d, ctx), "Connections to 192.0.2.2:22 are refused: nothing listens on port 22");
    // A program's name keeps its case at the start of the line.
    d.causes.front().summary = "ufw drops SYNs to 192.0.2.2:22: its default incoming policy is deny";
    EXPECT_EQ(verdict_line(d, ctx), "ufw drops SYNs to 192.0.2.2:22: its default incoming policy is deny");
    d.causes.front().summary = "port 22 is held by nc (pid 4686), not sshd";
    EXPECT_EQ(verdict_line(d, ctx), "Port 22 is held by nc (pid 4686), not sshd");
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
    EXPECT_EQ(j["syns_forwarded"], 0);
    // Forwarded SYNs counted apart in the kernel, plus those told apart by address (--all-netns).
    ctx.syns_forwarded_kernel = 5;
    Diagnosis with_forwarded = sample();
    with_forwarded.syns_forwarded = 2;
    ctx.syns_counted = 3;  // the kernel's own SYNs, with --all-netns the 2 forwarded among them
    auto jf = report_json(with_forwarded, ctx);
    EXPECT_EQ(jf["syns_forwarded"], 7);
    EXPECT_EQ(jf["syns_seen"], 1);
    EXPECT_NE(report_text(with_forwarded, ctx).find("7 more passed through to other hosts"), std::string::npos);
    ctx.syns_forwarded_kernel = 0;
    ctx.syns_counted = 0;
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

#include "render/metrics.h"

TEST(Render, PrometheusTextfileEscapesLabelsAndHasTypes) {
    WatchMetrics m;
    m.syns[{22, "firewall-drop", "srv"}] = 3;
    m.syns[{22, "accepted", "we\"ird\\ns\n"}] = 1;
    m.syns_seen_kernel = 4;
    m.updated_unix_seconds = 1700000000.5;
    std::string t = prometheus_text(m);
    EXPECT_NE(t.find("# TYPE synwhy_syns_total counter\n"), std::string::npos);
    EXPECT_NE(t.find("synwhy_syns_total{port=\"22\",verdict=\"firewall-drop\",netns=\"srv\"} 3\n"), std::string::npos) << t;
    EXPECT_NE(t.find("netns=\"we\\\"ird\\\\ns\\n\"} 1\n"), std::string::npos) << t;
    EXPECT_NE(t.find("synwhy_kernel_syns_total 4\n"), std::string::npos);
    EXPECT_NE(t.find("synwhy_up 1\n"), std::string::npos);
    EXPECT_NE(t.find("synwhy_last_update_timestamp_seconds 1700000000.500\n"), std::string::npos);
}

TEST(Render, FlowSeriesAreDeclaredAtZeroSoTheFirstRefusalIsAnIncrease) {
    WatchMetrics m;
    m.syns[{22, "no-listener", ""}] = 2;
    declare_flow_series(m, 22, "");
    declare_flow_series(m, 2222, "ctr1");
    EXPECT_EQ((m.syns[{22, "no-listener", ""}]), 2u);  // a count already there is kept
    EXPECT_EQ((m.syns.count({22, "accepted", ""})), 1u);
    EXPECT_EQ((m.syns[{2222, "listen-overflow", "ctr1"}]), 0u);
    EXPECT_EQ(m.syns.size(), 30u);  // 15 flow verdicts x 2 (port, netns)
    m.events_rate_limited = 65412;
    std::string t = prometheus_text(m);
    EXPECT_NE(t.find("synwhy_syns_total{port=\"22\",verdict=\"accepted\",netns=\"\"} 0\n"), std::string::npos) << t;
    EXPECT_NE(t.find("synwhy_events_rate_limited_total 65412\n"), std::string::npos) << t;
}

TEST(Render, PacketSocketCaptureIsSaidOnTheFirstLineAndInJson) {
    ReportContext ctx;
    ctx.ports = {22};
    // BPF: the verdict stays the first line, and the JSON names the capture.
    EXPECT_EQ(report_text(sample(), ctx).rfind("A firewall rule drops SYNs\n", 0), 0u);
    EXPECT_EQ(report_json(sample(), ctx)["capture"], "bpf");
    ctx.capture = "packet-socket";
    ctx.capture_note = "BPF cannot load: not enough privileges, no CAP_BPF, CAP_PERFMON";
    std::string text = report_text(sample(), ctx);
    EXPECT_EQ(text.rfind("capture: packet socket (BPF cannot load: not enough privileges, no CAP_BPF, CAP_PERFMON)\n"
                         "A firewall rule drops SYNs\n", 0),
              0u)
        << text;
    auto j = report_json(sample(), ctx);
    EXPECT_EQ(j["capture"], "packet-socket");
    EXPECT_EQ(j["capture_note"], ctx.capture_note);
}
