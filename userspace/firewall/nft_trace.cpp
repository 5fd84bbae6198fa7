#include "firewall/nft_trace.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <libnftnl/trace.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include <fmt/format.h>

namespace synwhy::firewall {

namespace {

constexpr size_t max_open_traces = 4096;
constexpr size_t max_listed_chains = 1024;

std::string table_family_name(uint32_t f) {
    switch (f) {
    case NFPROTO_INET: return "inet";
    case NFPROTO_IPV4: return "ip";
    case NFPROTO_IPV6: return "ip6";
    case NFPROTO_ARP: return "arp";
    case NFPROTO_NETDEV: return "netdev";
    case NFPROTO_BRIDGE: return "bridge";
    }
    return std::to_string(f);
}

bool contains(const std::vector<uint16_t>& ports, uint16_t p) {
    return std::find(ports.begin(), ports.end(), p) != ports.end();
}

std::string ports_expr(const std::vector<uint16_t>& ports) {
    std::string s = "{ ";
    for (size_t i = 0; i < ports.size(); i++) s += (i ? ", " : "") + std::to_string(ports[i]);
    return s + " }";
}

std::string first_line(const char* text) {
    std::string s = text ? text : "";
    if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
    return s;
}

// libnftnl's nftnl_trace_nlmsg_parse exit()s the process ("abi_breakage") on an attribute of the
// wrong size, on a missing id, type or verdict code, or a jump without its chain, and strdup()s
// strings it checked only for a non-zero length. The kernel never sends such a message; anything
// else that does (or a kernel whose ABI changed) must cost one message, not the capture: the
// message is checked here with libnftnl's rules, strings must end in NUL. Found by fuzzing.
int check_verdict_attr(const struct nlattr* attr, void* data) {
    auto* tb = static_cast<const struct nlattr**>(data);
    int type = mnl_attr_get_type(attr);
    if (type == NFTA_VERDICT_CODE) {
        if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0) return MNL_CB_ERROR;
        tb[type] = attr;
    } else if (type == NFTA_VERDICT_CHAIN) {
        if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0) return MNL_CB_ERROR;
        tb[type] = attr;
    }
    return MNL_CB_OK;
}

int check_trace_attr(const struct nlattr* attr, void* data) {
    auto* tb = static_cast<const struct nlattr**>(data);
    if (mnl_attr_type_valid(attr, NFTA_TRACE_MAX) < 0) return MNL_CB_OK;  // newer than us: ignored
    int type = mnl_attr_get_type(attr);
    int ok = 0;
    switch (type) {
    case NFTA_TRACE_VERDICT: ok = mnl_attr_validate(attr, MNL_TYPE_NESTED); break;
    case NFTA_TRACE_IIFTYPE:
    case NFTA_TRACE_OIFTYPE: ok = mnl_attr_validate(attr, MNL_TYPE_U16); break;
    case NFTA_TRACE_ID:
    case NFTA_TRACE_IIF:
    case NFTA_TRACE_MARK:
    case NFTA_TRACE_OIF:
    case NFTA_TRACE_POLICY:
    case NFTA_TRACE_NFPROTO:
    case NFTA_TRACE_TYPE: ok = mnl_attr_validate(attr, MNL_TYPE_U32); break;
    case NFTA_TRACE_CHAIN:
    case NFTA_TRACE_TABLE: ok = mnl_attr_validate(attr, MNL_TYPE_NUL_STRING); break;
    case NFTA_TRACE_RULE_HANDLE: ok = mnl_attr_validate(attr, MNL_TYPE_U64); break;
    case NFTA_TRACE_LL_HEADER:
    case NFTA_TRACE_NETWORK_HEADER:
    case NFTA_TRACE_TRANSPORT_HEADER: ok = mnl_attr_get_payload_len(attr) == 0 ? -1 : 0; break;
    }
    if (ok < 0) return MNL_CB_ERROR;
    tb[type] = attr;
    return MNL_CB_OK;
}

bool trace_message_is_sound(const struct nlmsghdr* nlh) {
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg)) return false;
    const struct nlattr* tb[NFTA_TRACE_MAX + 1] = {};
    if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), check_trace_attr, tb) < 0) return false;
    if (!tb[NFTA_TRACE_ID] || !tb[NFTA_TRACE_TYPE]) return false;
    if (tb[NFTA_TRACE_VERDICT]) {  // libnftnl reads the last one
        const struct nlattr* v[NFTA_VERDICT_MAX + 1] = {};
        if (mnl_attr_parse_nested(tb[NFTA_TRACE_VERDICT], check_verdict_attr, v) < 0) return false;
        if (!v[NFTA_VERDICT_CODE]) return false;
        auto code = static_cast<int32_t>(ntohl(mnl_attr_get_u32(v[NFTA_VERDICT_CODE])));
        if ((code == NFT_JUMP || code == NFT_GOTO) && !v[NFTA_VERDICT_CHAIN]) return false;
    }
    return true;
}

}  // namespace

bool decode_trace_message(const struct nlmsghdr* nlh, TraceRecord& out) {
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES || NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_TRACE)
        return false;
    if (!trace_message_is_sound(nlh)) return false;
    struct nftnl_trace* t = nftnl_trace_alloc();
    if (!t) return false;
    bool ok = nftnl_trace_nlmsg_parse(nlh, t) == 0;
    if (ok) {
        TraceRecord r;
        r.id = nftnl_trace_get_u32(t, NFTNL_TRACE_ID);
        r.type = nftnl_trace_get_u32(t, NFTNL_TRACE_TYPE);
        if (nftnl_trace_is_set(t, NFTNL_TRACE_FAMILY))
            r.family = table_family_name(nftnl_trace_get_u32(t, NFTNL_TRACE_FAMILY));
        if (nftnl_trace_is_set(t, NFTNL_TRACE_TABLE)) r.table = nftnl_trace_get_str(t, NFTNL_TRACE_TABLE);
        if (nftnl_trace_is_set(t, NFTNL_TRACE_CHAIN)) r.chain = nftnl_trace_get_str(t, NFTNL_TRACE_CHAIN);
        if (nftnl_trace_is_set(t, NFTNL_TRACE_RULE_HANDLE)) r.handle = nftnl_trace_get_u64(t, NFTNL_TRACE_RULE_HANDLE);
        if (r.type == NFT_TRACETYPE_POLICY && nftnl_trace_is_set(t, NFTNL_TRACE_POLICY))
            r.verdict = static_cast<int32_t>(nftnl_trace_get_u32(t, NFTNL_TRACE_POLICY));
        else if (nftnl_trace_is_set(t, NFTNL_TRACE_VERDICT))
            r.verdict = static_cast<int32_t>(nftnl_trace_get_u32(t, NFTNL_TRACE_VERDICT));
        if (nftnl_trace_is_set(t, NFTNL_TRACE_JUMP_TARGET))
            r.jump_target = nftnl_trace_get_str(t, NFTNL_TRACE_JUMP_TARGET);
        if (nftnl_trace_is_set(t, NFTNL_TRACE_NETWORK_HEADER) && nftnl_trace_is_set(t, NFTNL_TRACE_TRANSPORT_HEADER)) {
            uint32_t net_len = 0, l4_len = 0;
            auto* net = static_cast<const uint8_t*>(nftnl_trace_get_data(t, NFTNL_TRACE_NETWORK_HEADER, &net_len));
            auto* l4 = static_cast<const uint8_t*>(nftnl_trace_get_data(t, NFTNL_TRACE_TRANSPORT_HEADER, &l4_len));
            uint32_t nfproto = nftnl_trace_is_set(t, NFTNL_TRACE_NFPROTO) ? nftnl_trace_get_u32(t, NFTNL_TRACE_NFPROTO)
                                                                          : nftnl_trace_get_u32(t, NFTNL_TRACE_FAMILY);
            decode_trace_packet(nfproto, net, net_len, l4, l4_len, r);
        }
        out = std::move(r);
    }
    nftnl_trace_free(t);
    return ok;
}

bool decode_trace_packet(uint32_t nfproto, const uint8_t* net, size_t net_len, const uint8_t* l4, size_t l4_len,
                         TraceRecord& out) {
    if (!net || !l4 || l4_len < 14) return false;
    if (nfproto == NFPROTO_IPV4) {
        if (net_len < 20 || (net[0] >> 4) != 4 || net[9] != IPPROTO_TCP) return false;
        out.src.family = out.dst.family = Family::ipv4;
        std::memcpy(out.src.bytes.data(), net + 12, 4);
        std::memcpy(out.dst.bytes.data(), net + 16, 4);
    } else if (nfproto == NFPROTO_IPV6) {
        if (net_len < 40 || (net[0] >> 4) != 6 || net[6] != IPPROTO_TCP) return false;
        out.src.family = out.dst.family = Family::ipv6;
        std::memcpy(out.src.bytes.data(), net + 8, 16);
        std::memcpy(out.dst.bytes.data(), net + 24, 16);
    } else {
        return false;
    }
    out.sport = uint16_t(l4[0] << 8 | l4[1]);
    out.dport = uint16_t(l4[2] << 8 | l4[3]);
    out.tcp_flags = l4[13];
    out.has_packet = true;
    return true;
}

std::optional<Event> TraceAssembler::add(const TraceRecord& r, const std::vector<uint16_t>& ports) {
    auto [it, inserted] = traces_.try_emplace(r.id);
    if (inserted) {
        order_.push_back(r.id);
        if (order_.size() > max_open_traces) {  // traces never "end": forget the oldest
            traces_.erase(order_.front());
            order_.erase(order_.begin());
        }
    }
    Trace& t = it->second;
    if (r.has_packet) {
        t.packet = r;
        t.has_packet = true;
    }
    if (r.table == own_table_) return std::nullopt;
    if (r.table != t.table) {
        t.table = r.table;
        t.path.clear();
        t.targets.clear();
    }
    bool is_rule = r.type == NFT_TRACETYPE_RULE, is_policy = r.type == NFT_TRACETYPE_POLICY;
    // The path is a stack of the chains jumped from: a return (explicit, or falling off the end
    // of a regular chain) pops it, so only the jumps that led to the verdict remain.
    if (is_rule && (r.verdict == NFT_JUMP || r.verdict == NFT_GOTO)) {
        t.unwind_to(r.chain);
        t.path.push_back(r.chain);
        t.targets.push_back(r.jump_target);
        return std::nullopt;
    }
    if (r.type == NFT_TRACETYPE_RETURN || (is_rule && r.verdict == NFT_RETURN)) {
        if (!t.path.empty()) {
            t.path.pop_back();
            t.targets.pop_back();
        }
        return std::nullopt;
    }
    t.unwind_to(r.chain);
    if (!(is_rule || is_policy) || r.verdict != NF_DROP || !t.has_packet) return std::nullopt;

    Event e;
    e.kind = EventKind::firewall_verdict;
    e.src = t.packet.src;
    e.dst = t.packet.dst;
    e.sport = t.packet.sport;
    e.dport = t.packet.dport;
    e.tcp_flags = t.packet.tcp_flags;
    if (!contains(ports, e.dport) && contains(ports, e.sport)) {
        e.outbound = true;
        std::swap(e.src, e.dst);
        std::swap(e.sport, e.dport);
    }
    FirewallRule rule;
    rule.backend = "nftables";
    rule.family = r.family;
    rule.table = r.table;
    rule.chain = r.chain;
    rule.path = t.path;
    rule.handle = is_rule ? r.handle : 0;
    rule.policy = is_policy;
    rule.verdict = "drop";
    e.rule = rule;
    return e;
}

std::map<uint64_t, std::string> rules_by_handle(const std::string& listing) {
    // A rule is one line, unless a quoted string (a comment) holds a newline: then it goes on
    // until the quotes close and the line ends with its "# handle N".
    std::map<uint64_t, std::string> out;
    std::istringstream in(listing);
    std::string line, pending;
    bool in_quotes = false;
    while (std::getline(in, line)) {
        if (pending.empty()) {
            size_t start = line.find_first_not_of(" \t");
            if (start == std::string::npos) continue;
            line = line.substr(start);
            if (line.rfind("table ", 0) == 0 || line.rfind("chain ", 0) == 0) continue;
            pending = line;
        } else {
            pending += "\n" + line;
        }
        for (size_t i = pending.size() - line.size(); i < pending.size(); i++) {
            if (pending[i] == '\\' && in_quotes) i++;
            else if (pending[i] == '"') in_quotes = !in_quotes;
        }
        if (in_quotes) continue;
        auto mark = pending.rfind(" # handle ");
        if (mark != std::string::npos) {
            uint64_t handle = std::strtoull(pending.c_str() + mark + 10, nullptr, 10);
            if (handle) out[handle] = pending.substr(0, mark);
        }
        pending.clear();
    }
    return out;
}

std::string rule_comment(const std::string& text) {
    auto pos = text.find("comment \"");
    if (pos == std::string::npos) return "";
    std::string out;
    for (size_t i = pos + 9; i < text.size(); i++) {
        if (text[i] == '\\' && i + 1 < text.size()) {
            out += text[++i];
        } else if (text[i] == '"') {
            break;
        } else {
            out += text[i];
        }
    }
    return out;
}

namespace {

int find_generation_attr(const struct nlattr* attr, void* data) {
    if (mnl_attr_get_type(attr) != NFTA_GEN_ID) return MNL_CB_OK;
    if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0) return MNL_CB_ERROR;
    *static_cast<const struct nlattr**>(data) = attr;
    return MNL_CB_OK;
}

// The chain's own line ("type filter hook input priority filter; policy drop;"), for policies.
std::optional<std::string> chain_policy_line(const std::string& listing) {
    std::istringstream in(listing);
    std::string line;
    std::optional<std::string> found;
    while (std::getline(in, line))
        if (line.find("policy ") != std::string::npos && line.find("type ") != std::string::npos)
            found = line.substr(line.find_first_not_of(" \t"));
    return found;
}

}  // namespace

bool decode_generation(const struct nlmsghdr* nlh, uint32_t& generation) {
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES || NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWGEN)
        return false;
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg)) return false;
    const struct nlattr* id = nullptr;
    if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), find_generation_attr, &id) < 0 || !id) return false;
    generation = ntohl(mnl_attr_get_u32(id));
    return true;
}

std::optional<std::string> RuleTextCache::text(const std::string& chain_key, uint64_t handle,
                                               uint32_t generation) const {
    auto listing = listings_.find(chain_key);
    if (listing == listings_.end() || listing->second.generation != generation) return std::nullopt;
    auto rule = listing->second.texts.find(handle);
    if (rule == listing->second.texts.end()) return std::nullopt;
    return rule->second;
}

void RuleTextCache::store(const std::string& chain_key, uint32_t generation, Texts texts) {
    // Listings of another generation would never be used again.
    std::erase_if(listings_, [generation](const auto& entry) { return entry.second.generation != generation; });
    if (listings_.size() >= max_listed_chains) listings_.clear();
    listings_[chain_key] = Listing{generation, std::move(texts)};
}

std::unique_ptr<NftTraceSession> NftTraceSession::start(const std::vector<uint16_t>& ports, uint32_t netns,
                                                        std::string& error, int64_t monotonic_to_realtime_ns) {
    std::unique_ptr<NftTraceSession> s(new NftTraceSession());
    s->ports_ = ports;
    s->netns_ = netns;
    s->monotonic_to_realtime_ns_ = monotonic_to_realtime_ns;
    s->table_ = fmt::format("synwhy_trace_{}", getpid());
    s->assembler_ = std::make_unique<TraceAssembler>(s->table_);

    // Listen first, so that no trace of the first SYN is missed.
    s->trace_sock_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (!s->trace_sock_ || mnl_socket_bind(s->trace_sock_, 0, MNL_SOCKET_AUTOPID) < 0) {
        error = fmt::format("nft trace: cannot open a netfilter netlink socket: {}", strerror(errno));
        return nullptr;
    }
    int group = NFNLGRP_NFTRACE;
    if (mnl_socket_setsockopt(s->trace_sock_, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
        error = fmt::format("nft trace: cannot join the trace group: {}", strerror(errno));
        return nullptr;
    }
    int rcvbuf = 8 << 20;  // bursts of SYNs make bursts of trace messages
    setsockopt(mnl_socket_get_fd(s->trace_sock_), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);

    // Without it rule texts are read for every verdict, uncached (read_generation says nullopt).
    s->gen_sock_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    if (s->gen_sock_ && mnl_socket_bind(s->gen_sock_, 0, MNL_SOCKET_AUTOPID) == 0) {
        struct timeval timeout {1, 0};  // the kernel answers at once; never hang the capture on it
        setsockopt(mnl_socket_get_fd(s->gen_sock_), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    } else if (s->gen_sock_) {
        mnl_socket_close(s->gen_sock_);
        s->gen_sock_ = nullptr;
    }

    s->owner_ = nft_ctx_new(NFT_CTX_DEFAULT);
    s->lister_ = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!s->owner_ || !s->lister_) {
        error = "nft trace: cannot create an nftables context";
        return nullptr;
    }
    nft_ctx_buffer_output(s->owner_);
    nft_ctx_buffer_error(s->owner_);
    nft_ctx_buffer_output(s->lister_);
    nft_ctx_buffer_error(s->lister_);
    // Handles to find the rule; stateless so the text shows no counter values.
    nft_ctx_output_set_flags(s->lister_, NFT_CTX_OUTPUT_HANDLE | NFT_CTX_OUTPUT_STATELESS);

    // Priority -400: before raw (-300) and conntrack, so the mark is set before any other rule
    // sees the packet. The chains accept (their policy) and the rules only set nftrace; the rate
    // limit keeps a SYN flood from turning into a flood of trace messages.
    std::string p = ports_expr(ports);
    std::string cmd = fmt::format(
        "table inet {t} {{\n"
        "{owner}"
        "  chain syn_in {{\n"
        "    type filter hook prerouting priority -400; policy accept;\n"
        "    tcp dport {p} tcp flags & (syn|ack) == syn limit rate 500/second burst 500 packets meta nftrace set 1\n"
        "  }}\n"
        "  chain reply_out {{\n"
        "    type filter hook output priority -400; policy accept;\n"
        "    tcp sport {p} tcp flags & (syn|ack) == syn|ack limit rate 500/second burst 500 packets meta nftrace set 1\n"
        "    tcp sport {p} tcp flags & rst == rst limit rate 500/second burst 500 packets meta nftrace set 1\n"
        "  }}\n"
        "}}\n",
        fmt::arg("t", s->table_), fmt::arg("p", p), fmt::arg("owner", "{owner}"));
    auto with_owner = [&](bool owned) {
        std::string text = cmd;
        text.replace(text.find("{owner}"), 7, owned ? "  flags owner\n" : "");
        return text;
    };
    if (nft_run_cmd_from_buffer(s->owner_, with_owner(true).c_str()) != 0) {
        // Before 5.12 the kernel knows no table owner: the table is synwhy's to remove. (One that
        // a killed synwhy left is not removed by another: its pid may be of another pid
        // namespace, a live synwhy's. It only marks packets for tracing.)
        if (nft_run_cmd_from_buffer(s->owner_, with_owner(false).c_str()) != 0) {
            error = "nft trace: cannot add the trace table: " + first_line(nft_ctx_get_error_buffer(s->owner_));
            return nullptr;
        }
        s->kernel_removes_table_ = false;
    }
    return s;
}

NftTraceSession::~NftTraceSession() {
    // Freeing the owner context closes the socket that owns the table: the kernel removes it.
    // Without owners (before 5.12) synwhy deletes it.
    if (owner_ && !kernel_removes_table_) {
        std::string del = fmt::format("delete table inet {}", table_);
        nft_run_cmd_from_buffer(owner_, del.c_str());
    }
    if (owner_) nft_ctx_free(owner_);
    if (lister_) nft_ctx_free(lister_);
    if (trace_sock_) mnl_socket_close(trace_sock_);
    if (gen_sock_) mnl_socket_close(gen_sock_);
}

int NftTraceSession::fd() const { return mnl_socket_get_fd(trace_sock_); }

std::optional<uint32_t> NftTraceSession::read_generation() {
    if (!gen_sock_) return std::nullopt;
    alignas(struct nlmsghdr) char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr* request = mnl_nlmsg_put_header(buf);
    request->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
    request->nlmsg_flags = NLM_F_REQUEST;
    uint32_t seq = request->nlmsg_seq = ++gen_seq_;
    auto* nfg = static_cast<struct nfgenmsg*>(mnl_nlmsg_put_extra_header(request, sizeof(struct nfgenmsg)));
    nfg->nfgen_family = AF_UNSPEC;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
    if (mnl_socket_sendto(gen_sock_, request, request->nlmsg_len) < 0) return std::nullopt;
    // Our answer, past a late one to an earlier request that timed out.
    for (int reads = 0; reads < 4; reads++) {
        ssize_t n = mnl_socket_recvfrom(gen_sock_, buf, sizeof buf);
        if (n < 0) return std::nullopt;
        int len = static_cast<int>(n);
        for (auto* nlh = reinterpret_cast<struct nlmsghdr*>(buf); mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
            if (nlh->nlmsg_seq != seq) continue;
            uint32_t generation = 0;
            if (decode_generation(nlh, generation)) return generation;
            return std::nullopt;  // an error
        }
    }
    return std::nullopt;
}

RuleTextCache::Texts NftTraceSession::list_chain(const FirewallRule& rule) {
    std::string cmd = fmt::format("list chain {} {} {}", rule.family, rule.table, rule.chain);
    if (nft_run_cmd_from_buffer(lister_, cmd.c_str()) != 0) return {};
    const char* out = nft_ctx_get_output_buffer(lister_);
    std::string listing = out ? out : "";
    RuleTextCache::Texts texts = rules_by_handle(listing);
    if (auto policy = chain_policy_line(listing)) texts[0] = *policy;
    return texts;
}

// Reads the chain; the listing is cached only when no commit came while it was read, so that it
// belongs to one generation.
std::optional<std::string> NftTraceSession::read_rule_text(const FirewallRule& rule, const std::string& key,
                                                           uint32_t generation) {
    RuleTextCache::Texts texts = list_chain(rule);
    auto it = texts.find(rule.handle);
    std::optional<std::string> text;
    if (it != texts.end()) text = it->second;
    if (read_generation() == generation) rule_texts_.store(key, generation, std::move(texts));
    return text;
}

void NftTraceSession::fill_rule_text(FirewallRule& rule) {
    // The trace is read milliseconds after its packet was judged: the ruleset's generation now is
    // the one that judged it, unless a commit came in between. Every commit moves the generation
    // (a rule replaced in place keeps its handle), so a listing of another generation is read again.
    std::string key = rule.family + " " + rule.table + " " + rule.chain;
    std::optional<uint32_t> generation = read_generation();
    std::optional<std::string> text;
    if (generation) text = rule_texts_.text(key, rule.handle, *generation);
    if (!text && generation) text = read_rule_text(rule, key, *generation);
    if (!text && !generation) {  // the generation unknown: the chain as it is now, uncached
        RuleTextCache::Texts texts = list_chain(rule);
        if (auto it = texts.find(rule.handle); it != texts.end()) text = it->second;
    }
    rule.text = text.value_or("");
    if (!rule.policy) {
        rule.comment = rule_comment(rule.text);
        if (rule.text.find("reject") != std::string::npos || rule.text.find("REJECT") != std::string::npos)
            rule.verdict = "reject";
    }
    // The table front-end that made it.
    if (rule.table == "firewalld") rule.backend = "nftables";
}

void NftTraceSession::add_decision(const TraceRecord& r, std::vector<Event>& out) {
    if (getenv("SYNWHY_DEBUG_EVENTS"))
        fprintf(stderr, "trace id=%x type=%u %s %s %s handle=%lu verdict=%d packet=%d %s:%u\n", r.id, r.type,
                r.family.c_str(), r.table.c_str(), r.chain.c_str(), (unsigned long)r.handle, r.verdict, r.has_packet,
                r.src.str().c_str(), r.sport);
    auto e = assembler_->add(r, ports_);
    if (!e) return;
    e->netns = netns_;
    // On the kernel events' clock; the message carries no time: it is read just after the packet.
    e->ts_ns = event_time_ns(monotonic_now_ns(), monotonic_to_realtime_ns_);
    fill_rule_text(*e->rule);
    out.push_back(std::move(*e));
}

void NftTraceSession::drain(std::vector<Event>& out) {
    char buf[MNL_SOCKET_BUFFER_SIZE * 4];
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(trace_sock_, buf, sizeof buf);
        if (n < 0) {
            if (errno == ENOBUFS) {  // the kernel dropped messages: say so, keep reading
                lost_++;
                continue;
            }
            return;  // EAGAIN: nothing more now
        }
        auto* nlh = reinterpret_cast<struct nlmsghdr*>(buf);
        int len = static_cast<int>(n);
        for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
            TraceRecord r;
            if (decode_trace_message(nlh, r)) add_decision(r, out);
        }
    }
}

}  // namespace synwhy::firewall
