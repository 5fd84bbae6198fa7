// synwhy probe's output: the JSON fields the issue fixes, and the text's first line.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "probe/render.h"
#include "probe/verdict.h"

namespace synwhy::probe {
namespace {

ProbeResult router_icmp_result() {
    ProbeResult r;
    r.host = r.target = "srv.example";
    r.ssh.known = true;
    r.ssh.hostname = "srv.example";
    r.ssh.port = 22;
    r.ssh.port_origin.how = "default";
    r.resolution.nss = {"198.51.100.66"};
    AddressProbe a;
    a.addr = "198.51.100.66";
    a.family = 4;
    a.ssh.port = 22;
    a.ssh.answer = Answer::icmp;
    a.ssh.from = "198.51.100.62";
    a.ssh.ttl = 64;
    a.ssh.icmp_type = 3;
    a.ssh.icmp_code = 13;
    a.ssh.syns_sent = 1;
    a.ssh.syns_counted_on_wire = true;
    r.addresses.push_back(a);
    return r;
}

TEST(ProbeRender, JsonHasTheIssuesFields) {
    ProbeResult r = router_icmp_result();
    auto j = nlohmann::json::parse(render_json(r, decide(r)));
    EXPECT_EQ(j["verdict"], "refused-in-path");
    EXPECT_EQ(j["host"], "srv.example");
    EXPECT_EQ(j["port"], 22);
    ASSERT_EQ(j["addresses"].size(), 1u);
    const auto& a = j["addresses"][0];
    EXPECT_EQ(a["addr"], "198.51.100.66");
    EXPECT_EQ(a["family"], "ipv4");
    EXPECT_EQ(a["verdict"], "refused-in-path");
    EXPECT_EQ(a["answer"], "icmp");
    EXPECT_EQ(a["from"], "198.51.100.62");
    EXPECT_EQ(a["ttl"], 64);
    EXPECT_EQ(a["icmp_type"], 3);
    EXPECT_EQ(a["icmp_code"], 13);
    EXPECT_TRUE(a["banner"].is_null());
    EXPECT_EQ(a["syns_sent"], 1);
    EXPECT_EQ(a["syns_counted"], "wire");
    EXPECT_EQ(j["ssh_config"]["port_from"], "default");
    EXPECT_TRUE(j["ssh_config"]["port_file"].is_null());
    ASSERT_FALSE(j["next"].empty());
    EXPECT_EQ(j["next"][0], "traceroute -n -T -p 22 198.51.100.66");
}

TEST(ProbeRender, TextStartsWithTheVerdict) {
    ProbeResult r = router_icmp_result();
    r.capture_note = "";
    std::string text = render_text(r, decide(r));
    EXPECT_EQ(text.substr(0, text.find('\n')),
              "refused-in-path: 198.51.100.66:22 is refused in the path: 198.51.100.62, not the host, answers ICMP "
              "admin prohibited (a router or firewall rejects)");
    EXPECT_NE(text.find("next:\n  traceroute -n -T -p 22 198.51.100.66\n"), std::string::npos);
}

}  // namespace
}  // namespace synwhy::probe
