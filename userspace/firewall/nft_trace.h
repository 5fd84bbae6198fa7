// nftables attribution through nft trace: while synwhy runs, a throwaway table owned by its
// netlink socket (NFT_TABLE_F_OWNER: the kernel removes it when the socket closes, even after
// SIGKILL) marks SYNs to the watched ports, and their answers, with `meta nftrace set 1`. The kernel
// then reports every table, chain, rule handle and verdict those packets meet on NFNLGRP_NFTRACE.
// The trace rule only sets nftrace and its chains accept: it never changes a verdict.
#pragma once

#include <cstdint>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "diagnosis/model.h"

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

// The live part: owns the trace table and the trace socket, in the calling thread's netns.
class NftTraceSession {
public:
    // nullptr and an error line when nft trace cannot be set up here.
    // netns: the inode of the calling thread's netns, stamped on the events so they join the
    // kernel's events of the same flow.
    static std::unique_ptr<NftTraceSession> start(const std::vector<uint16_t>& ports, uint32_t netns,
                                                  std::string& error);
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
    void fill_rule_text(FirewallRule& rule);

    std::vector<uint16_t> ports_;
    uint32_t netns_ = 0;
    std::string table_;
    struct nft_ctx* owner_ = nullptr;   // holds the socket that owns the table
    struct nft_ctx* lister_ = nullptr;  // for reading rule text
    struct mnl_socket* trace_sock_ = nullptr;
    std::unique_ptr<TraceAssembler> assembler_;
    std::map<std::string, std::map<uint64_t, std::string>> rule_cache_;  // "family table chain" -> rules
    std::chrono::steady_clock::time_point rule_cache_time_{};
    uint64_t lost_ = 0;
};

}  // namespace synwhy::firewall
