// nftables attribution through nft trace: while synwhy runs, a throwaway table owned by its
// netlink socket (NFT_TABLE_F_OWNER: the kernel removes it when the socket closes, even after
// SIGKILL) marks SYNs to the watched ports, and their answers, with `meta nftrace set 1`. The kernel
// then reports every table, chain, rule handle and verdict those packets meet on NFNLGRP_NFTRACE.
// The trace rule only sets nftrace and its chains accept: it never changes a verdict.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "diagnosis/model.h"
#include "firewall/event_clock.h"

struct nft_ctx;
struct mnl_socket;
struct nlmsghdr;

namespace synwhy::firewall {

// One decoded trace message (pure data; see decode_trace_message).
struct TraceRecord {
    uint32_t id = 0;
    uint32_t type = 0;      // NFT_TRACETYPE_RULE / RETURN / POLICY
    uint32_t nfproto = 0;   // NFPROTO_IPV4 / IPV6
    std::string family;     // table family: ip, ip6, inet, ...
    std::string table, chain;
    uint64_t handle = 0;
    int32_t verdict = 1;    // NF_DROP 0, NF_ACCEPT 1, NFT_CONTINUE -1, NFT_JUMP -3, NFT_GOTO -4, NFT_RETURN -5
    std::string jump_target;
    // From the packet headers, when the message carried them.
    bool has_packet = false;
    IpAddr src, dst;
    uint16_t sport = 0, dport = 0;
    uint8_t tcp_flags = 0;
};

// Decodes one netlink message from NFNLGRP_NFTRACE (its nlmsg_len already checked against the
// buffer, as mnl_nlmsg_ok does): false when it is not an NFT_MSG_TRACE message, or is one that
// libnftnl would reject (or exit() on: it is checked first). Pure, fuzzed (tests/fuzz/).
bool decode_trace_message(const struct nlmsghdr* nlh, TraceRecord& out);

// Decodes the IP and TCP headers an NFTA_TRACE_*_HEADER attribute carries; false if not TCP.
bool decode_trace_packet(uint32_t nfproto, const uint8_t* net, size_t net_len, const uint8_t* l4, size_t l4_len,
                         TraceRecord& out);

// Folds trace records into decisions: for each trace id, the rule or policy that dropped the
// packet, with the chains jumped through. Pure, unit-tested.
class TraceAssembler {
public:
    explicit TraceAssembler(std::string own_table) : own_table_(std::move(own_table)) {}
    // Returns a finished decision when this record is a drop (rule verdict drop or policy drop).
    std::optional<Event> add(const TraceRecord& r, const std::vector<uint16_t>& ports);

private:
    struct Trace {
        bool has_packet = false;
        TraceRecord packet;
        std::string table;
        std::vector<std::string> path;     // the chains jumped from, base chain first
        std::vector<std::string> targets;  // the chain each of those jumps went to
        // Pops the jumps that already returned (the kernel does not trace every return, e.g.
        // from an empty chain) until `chain` is the current one.
        void unwind_to(const std::string& chain) {
            while (!targets.empty() && targets.back() != chain) {
                targets.pop_back();
                path.pop_back();
            }
        }
    };
    std::string own_table_;
    std::map<uint32_t, Trace> traces_;  // bounded: oldest dropped past a limit
    std::vector<uint32_t> order_;
};

// Rule text by handle from `nft -a list chain` output ("... # handle 7" lines).
std::map<uint64_t, std::string> rules_by_handle(const std::string& listing);
std::string rule_comment(const std::string& rule_text);  // comment "..." of a rule, unescaped

// The ruleset generation an NFT_MSG_NEWGEN message (the answer to NFT_MSG_GETGEN) carries;
// false for any other message. Pure.
bool decode_generation(const struct nlmsghdr* nlh, uint32_t& generation);

// The texts of a chain's rules by handle (0: the chain's policy line), each listing tagged with
// the ruleset generation it was read at. Every commit moves the generation, and `nft replace rule
// ... handle N` keeps the handle, not the text: a listing of another generation is stale. Pure.
class RuleTextCache {
public:
    using Texts = std::map<uint64_t, std::string>;

    // The rule's text at `generation`; nullopt: stale or never read (read the chain again).
    std::optional<std::string> text(const std::string& chain_key, uint64_t handle, uint32_t generation) const;
    void store(const std::string& chain_key, uint32_t generation, Texts texts);

private:
    struct Listing {
        uint32_t generation = 0;
        Texts texts;
    };
    std::map<std::string, Listing> listings_;  // "family table chain" -> listing; bounded
};

// The live part: owns the trace table and the trace socket, in the calling thread's netns.
class NftTraceSession {
public:
    // nullptr and an error line when nft trace cannot be set up here.
    // netns: the inode of the calling thread's netns, stamped on the events so they join the
    // kernel's events of the same flow.
    // monotonic_to_realtime_ns: the offset the kernel's events are shifted by (event_time_ns), so
    // that verdicts are stamped on their clock.
    static std::unique_ptr<NftTraceSession> start(const std::vector<uint16_t>& ports, uint32_t netns,
                                                  std::string& error,
                                                  int64_t monotonic_to_realtime_ns = realtime_minus_monotonic_ns());
    ~NftTraceSession();
    NftTraceSession(const NftTraceSession&) = delete;
    NftTraceSession& operator=(const NftTraceSession&) = delete;

    int fd() const;
    // Reads what is pending (non-blocking) and appends a firewall_verdict event per drop seen.
    void drain(std::vector<Event>& out);
    const std::string& table_name() const { return table_; }
    uint64_t lost() const { return lost_; }  // trace messages lost to a full socket buffer

private:
    NftTraceSession() = default;
    void add_decision(const TraceRecord& r, std::vector<Event>& out);
    void fill_rule_text(FirewallRule& rule);
    std::optional<std::string> read_rule_text(const FirewallRule& rule, const std::string& key, uint32_t generation);
    RuleTextCache::Texts list_chain(const FirewallRule& rule);
    std::optional<uint32_t> read_generation();

    std::vector<uint16_t> ports_;
    uint32_t netns_ = 0;
    int64_t monotonic_to_realtime_ns_ = 0;
    std::string table_;
    struct nft_ctx* owner_ = nullptr;   // holds the socket that owns the table
    // Before 5.12 a table cannot be owned (flags owner): synwhy deletes it itself at the end.
    bool kernel_removes_table_ = true;
    struct nft_ctx* lister_ = nullptr;  // for reading rule text
    struct mnl_socket* trace_sock_ = nullptr;
    struct mnl_socket* gen_sock_ = nullptr;  // asks the ruleset's generation (NFT_MSG_GETGEN)
    uint32_t gen_seq_ = 0;
    std::unique_ptr<TraceAssembler> assembler_;
    RuleTextCache rule_texts_;
    uint64_t lost_ = 0;
};

}  // namespace synwhy::firewall
