// The pure parts of the systemd probes: os-release, Socket.Listen, alias folding, the slice of an
// Accept=yes socket's instances, a queued job's waits; and a root without systemd. No root, no
// systemd needed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "host/snapshot.h"

using namespace synwhy::host;

namespace {

// /usr/lib/os-release of Debian 12 and of Ubuntu 24.04, as shipped.
const char* const debian_12 =
    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
    "NAME=\"Debian GNU/Linux\"\n"
    "VERSION_ID=\"12\"\n"
    "VERSION=\"12 (bookworm)\"\n"
    "VERSION_CODENAME=bookworm\n"
    "ID=debian\n"
    "HOME_URL=\"https://www.debian.org/\"\n";
const char* const ubuntu_24_04 =
    "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\n"
    "NAME=\"Ubuntu\"\n"
    "VERSION_ID=\"24.04\"\n"
    "VERSION=\"24.04.1 LTS (Noble Numbat)\"\n"
    "VERSION_CODENAME=noble\n"
    "ID=ubuntu\n"
    "ID_LIKE=debian\n";

// A directory removed at the end of the test.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "synwhy-systemd-XXXXXX").string();
        path = mkdtemp(tmpl.data());
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    void write(const std::string& relative, const std::string& text) const {
        std::filesystem::create_directories((path / relative).parent_path());
        std::ofstream(path / relative) << text;
    }
};

}  // namespace

TEST(OsRelease, DebianAndUbuntu) {
    auto debian = parse_os_release(debian_12);
    EXPECT_EQ(debian.id, "debian");
    EXPECT_EQ(debian.version_id, "12");
    auto ubuntu = parse_os_release(ubuntu_24_04);
    EXPECT_EQ(ubuntu.id, "ubuntu");
    EXPECT_EQ(ubuntu.version_id, "24.04");
}

TEST(OsRelease, QuotesEscapesCommentsAndOddLines) {
    auto os = parse_os_release("# ID=commented\n\nID='fedora'\r\nVERSION_ID=\"4\\\"0\"  \ngarbage\nID_LIKE=x\n=\n");
    EXPECT_EQ(os.id, "fedora");
    EXPECT_EQ(os.version_id, "4\"0");
    auto empty = parse_os_release("");
    EXPECT_EQ(empty.id, "");
    EXPECT_EQ(empty.version_id, "");
    EXPECT_EQ(parse_os_release("ID=\"\nVERSION_ID=\"").id, "\"");  // an unmatched quote is kept
}

TEST(OsRelease, ReadThroughARootPrefix) {
    TempDir root;
    root.write("usr/lib/os-release", ubuntu_24_04);
    auto os = read_os_release(root.path.string());  // no /etc/os-release: the fallback
    EXPECT_EQ(os.id, "ubuntu");
    root.write("etc/os-release", debian_12);
    EXPECT_EQ(read_os_release(root.path.string()).id, "debian");
}

TEST(ReadFileInRoot, AbsoluteSymlinksStayInsideTheRoot) {
    TempDir root;
    root.write("usr/lib/os-release", debian_12);
    std::filesystem::create_directories(root.path / "etc");
    // As distributions ship it, but absolute: must resolve to <root>/usr/lib/os-release, not the host's.
    std::filesystem::create_symlink("/usr/lib/os-release", root.path / "etc/os-release");
    auto text = read_file_in_root(root.path.string(), "/etc/os-release");
    ASSERT_TRUE(text);
    EXPECT_EQ(*text, debian_12);
    std::filesystem::create_symlink("../../../../../../etc/hostname", root.path / "etc/escape");
    EXPECT_FALSE(read_file_in_root(root.path.string(), "/etc/escape"));  // ".." stops at the root
    EXPECT_FALSE(read_file_in_root(root.path.string(), "/no/such/file"));
    EXPECT_FALSE(read_file_in_root(root.path.string() + "/missing-root", "/etc/os-release"));
}

TEST(SshdSocketGenerator, FoundMaskedOrAbsent) {
    TempDir root;
    EXPECT_EQ(find_sshd_socket_generator(root.path.string()), "");
    root.write("usr/lib/systemd/system-generators/sshd-socket-generator", "#!/bin/sh\n");
    EXPECT_EQ(find_sshd_socket_generator(root.path.string()), "/usr/lib/systemd/system-generators/sshd-socket-generator");
    // Masked in /etc (linked to /dev/null): none in effect.
    std::filesystem::create_directories(root.path / "etc/systemd/system-generators");
    std::filesystem::create_symlink("/dev/null", root.path / "etc/systemd/system-generators/sshd-socket-generator");
    EXPECT_EQ(find_sshd_socket_generator(root.path.string()), "");
}

TEST(SocketListen, StreamAddressesAsSystemdPrintsThem) {
    // Socket.Listen of Ubuntu 24.04's ssh.socket after the generator, and of a mixed unit.
    std::vector<std::pair<std::string, std::string>> listen = {
        {"Stream", "[::]:22"}, {"Stream", "0.0.0.0:2222"}, {"Datagram", "0.0.0.0:53"},
        {"Stream", "/run/dbus/system_bus_socket"}, {"Netlink", "kobject-uevent 1"}, {"Stream", "22"}};
    EXPECT_EQ(stream_listen_addresses(listen),
              (std::vector<std::string>{"[::]:22", "0.0.0.0:2222", "/run/dbus/system_bus_socket", "22"}));
    EXPECT_TRUE(stream_listen_addresses({}).empty());
}

TEST(SocketListen, IpAddressesOnly) {
    EXPECT_TRUE(is_ip_listen_address("[::]:22"));
    EXPECT_TRUE(is_ip_listen_address("0.0.0.0:2222"));
    EXPECT_TRUE(is_ip_listen_address("22"));
    EXPECT_TRUE(is_ip_listen_address("[fe80::1%eth0]:22"));
    EXPECT_FALSE(is_ip_listen_address("/run/dbus/system_bus_socket"));
    EXPECT_FALSE(is_ip_listen_address("@/org/freedesktop/systemd1/notify"));
    EXPECT_FALSE(is_ip_listen_address("vsock:2:22"));
    EXPECT_FALSE(is_ip_listen_address(""));
}

TEST(UnitAliases, FoldedUnderTheId) {
    // Debian 12: sshd.service is an alias of ssh.service (Alias= in its [Install]).
    EXPECT_EQ(unit_aliases("ssh.service", "ssh.service", {"ssh.service", "sshd.service"}),
              (std::vector<std::string>{"sshd.service"}));
    EXPECT_EQ(unit_aliases("sshd.service", "ssh.service", {"ssh.service", "sshd.service"}),
              (std::vector<std::string>{"sshd.service"}));
    // Fedora: sshd.service is the unit itself.
    EXPECT_TRUE(unit_aliases("sshd.service", "sshd.service", {"sshd.service"}).empty());
    // A queried alias systemd did not list among Names still counts as one, once.
    EXPECT_EQ(unit_aliases("sshd.service", "ssh.service", {"ssh.service"}),
              (std::vector<std::string>{"sshd.service"}));
    EXPECT_TRUE(unit_aliases("", "ssh.service", {}).empty());
}

TEST(AcceptInstances, Slice) {
    EXPECT_EQ(accept_instances_slice("ssh.socket"), "system-ssh.slice");
    EXPECT_EQ(accept_instances_slice("sshd.socket"), "system-sshd.slice");
    EXPECT_EQ(accept_instances_slice("my-ssh.socket"), "system-my\\x2dssh.slice");
}

// Job.GetBefore's entries as systemd 252 gave them for ssh.service's start job (drop-in
// After=slowboot.service in the systemd lab's root filesystem); odd fields are kept readable.
TEST(WaitedJobs, EntryAsTheDiagnosisReadsIt) {
    EXPECT_EQ(waited_job_entry(136, "slowboot.service", "start", "running"), "slowboot.service (start, running)");
    EXPECT_EQ(waited_job_entry(7, "cloud-init.service", "start", "waiting"), "cloud-init.service (start, waiting)");
    EXPECT_EQ(waited_job_entry(136, "", "start", "running"), "job 136 (start, running)");
    EXPECT_EQ(waited_job_entry(136, "network.target", "", "waiting"), "network.target (waiting)");
    EXPECT_EQ(waited_job_entry(136, "network.target", "", ""), "network.target");
}

TEST(SystemdUnits, NoSystemdInTheViewIsNothingAndNoError) {
    TempDir root;  // no run/systemd/system: not booted with systemd
    std::string error = "stale";
    auto start = std::chrono::steady_clock::now();
    auto units = query_systemd_units(root.path.string(), error);
    EXPECT_FALSE(units.running);
    EXPECT_TRUE(units.ssh_units.empty());
    EXPECT_TRUE(units.socket_units.empty());
    EXPECT_EQ(error, "");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
}

TEST(SystemdUnits, NoBusIsAnErrorLineNotAFailure) {
    TempDir root;  // systemd "running" but no bus socket and no private socket
    std::filesystem::create_directories(root.path / "run/systemd/system");
    std::string error;
    auto units = query_systemd_units(root.path.string(), error);
    EXPECT_TRUE(units.running);
    EXPECT_TRUE(units.ssh_units.empty());
    EXPECT_NE(error.find("cannot connect to the system bus"), std::string::npos) << error;
}

TEST(UnitJournals, EmptyJournalDirectoryGivesNoLines) {
    TempDir root;
    std::filesystem::create_directories(root.path / "var/log/journal");
    std::vector<synwhy::SystemdUnit> units(1);
    units[0].id = units[0].name = "ssh.service";
    std::string error = read_unit_journals(units, root.path.string(), 10);
    // No boot id under the fake root: one error line, nothing read, nothing thrown.
    EXPECT_EQ(error, "cannot read the boot id");
    EXPECT_TRUE(units[0].journal.empty());
    root.write("proc/sys/kernel/random/boot_id", "0123456789abcdef0123456789abcdef\n");
    EXPECT_EQ(read_unit_journals(units, root.path.string(), 10), "");
    EXPECT_TRUE(units[0].journal.empty());
}

// --- which journal lines of a unit are kept (read_unit_journals' choice, fed oldest first).

namespace {

struct FedEntry {
    const char* message;
    bool from_systemd;
};

std::vector<synwhy::JournalLine> pick_from(const std::vector<FedEntry>& oldest_first, size_t max_lines) {
    size_t next = oldest_first.size();
    auto previous = [&](synwhy::JournalLine& line, bool& from_systemd) {
        if (next == 0) return false;
        const FedEntry& e = oldest_first[--next];
        line = synwhy::JournalLine{};
        line.message = e.message;
        from_systemd = e.from_systemd;
        return true;
    };
    return pick_unit_journal_lines(previous, max_lines, 10 * max_lines);
}

const FedEntry config_error[] = {
    {"/etc/ssh/sshd_config line 12: Bad configuration option: Prot", false},
    {"/etc/ssh/sshd_config: terminating, 1 bad configuration options", false},
    {"ssh.service: Failed with result 'exit-code'.", true},
};
const FedEntry start_limit[] = {
    {"ssh.service: Scheduled restart job, restart counter is at 5.", true},
    {"Stopping ssh.service - OpenBSD Secure Shell server...", true},
    {"ssh.service: Start request repeated too quickly.", true},
    {"ssh.service: Failed with result 'start-limit-hit'.", true},
    {"Failed to start ssh.service - OpenBSD Secure Shell server.", true},
};

// The lines the diagnosis reads as the latest start's: those after the last successful start.
std::vector<std::string> since_last_start(const std::vector<synwhy::JournalLine>& lines) {
    std::vector<std::string> out;
    for (const auto& l : lines) {
        if (l.message.starts_with("Started ") || l.message.starts_with("Listening on ")) out.clear();
        else out.push_back(l.message);
    }
    return out;
}

}  // namespace

TEST(UnitJournalLines, AnErrorBeforeALaterStartIsNeverTheLatestStarts) {
    std::vector<FedEntry> fed(std::begin(config_error), std::end(config_error));
    fed.push_back({"Starting ssh.service - OpenBSD Secure Shell server...", true});
    fed.push_back({"Started ssh.service - OpenBSD Secure Shell server.", true});
    fed.insert(fed.end(), std::begin(start_limit), std::end(start_limit));
    for (size_t max_lines : {3, 5, 10}) {
        auto lines = pick_from(fed, max_lines);
        for (const auto& message : since_last_start(lines))
            EXPECT_EQ(message.find("Bad configuration"), std::string::npos) << max_lines << ": " << message;
    }
    // The window is the five start-limit lines; looking back stops at the start, which is kept.
    auto lines = pick_from(fed, 5);
    ASSERT_EQ(lines.size(), 6u);
    EXPECT_EQ(lines.front().message, "Started ssh.service - OpenBSD Secure Shell server.");
    EXPECT_EQ(lines.back().message, "Failed to start ssh.service - OpenBSD Secure Shell server.");
}

TEST(UnitJournalLines, LookingBackFindsTheErrorAndKeepsTheBoundaries) {
    std::vector<FedEntry> fed(std::begin(config_error), std::end(config_error));
    fed.push_back({"Stopped ssh.service - OpenBSD Secure Shell server.", true});
    fed.push_back({"Starting ssh.service - OpenBSD Secure Shell server...", true});
    fed.insert(fed.end(), std::begin(start_limit), std::end(start_limit));
    auto lines = pick_from(fed, 5);
    std::vector<std::string> messages;
    for (const auto& l : lines) messages.push_back(l.message);
    // systemd's "Failed with result 'exit-code'" is a repeat and is skipped; the boundaries stay.
    std::vector<std::string> expected = {config_error[0].message, config_error[1].message,
                                         "Stopped ssh.service - OpenBSD Secure Shell server.",
                                         "Starting ssh.service - OpenBSD Secure Shell server..."};
    for (const auto& e : start_limit) expected.push_back(e.message);
    EXPECT_EQ(messages, expected);
    auto current = since_last_start(lines);
    EXPECT_EQ(current.front(), config_error[0].message);
}

TEST(UnitJournalLines, AWindowWithTheUnitsOwnLinesIsEnough) {
    std::vector<FedEntry> fed(std::begin(config_error), std::end(config_error));
    fed.push_back({"Server listening on 0.0.0.0 port 22.", false});
    EXPECT_EQ(pick_from(fed, 2).size(), 2u);
    EXPECT_EQ(pick_from(fed, 10).size(), 4u);
    EXPECT_TRUE(pick_from({}, 10).empty());
    EXPECT_TRUE(is_journal_boundary("Listening on ssh.socket - OpenBSD Secure Shell server socket."));
    EXPECT_FALSE(is_journal_boundary("ssh.service: Started too often"));
}
