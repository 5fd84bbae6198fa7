// The ssh units and the socket units systemd knows, over D-Bus (sd-bus). No systemd is a normal
// case, not an error.
#include "host/snapshot.h"

#include <systemd/sd-bus.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string_view>

namespace synwhy::host {

namespace {

constexpr const char* destination = "org.freedesktop.systemd1";
constexpr const char* manager_path = "/org/freedesktop/systemd1";
constexpr const char* manager_iface = "org.freedesktop.systemd1.Manager";
constexpr size_t max_socket_units = 256;  // a bound on the work, far above real systems
constexpr const char* job_iface = "org.freedesktop.systemd1.Job";
constexpr size_t max_waited_jobs = 16;    // a boot transaction's fan-in stays far below

struct BusCloser {
    void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
using Bus = std::unique_ptr<sd_bus, BusCloser>;

struct MessageUnref {
    void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using Message = std::unique_ptr<sd_bus_message, MessageUnref>;

// The message of an sd-bus failure: the D-Bus error if there is one, else errno's text.
std::string bus_error_text(const sd_bus_error& e, int rc) {
    if (e.message && *e.message) return e.message;
    if (e.name && *e.name) return e.name;
    return strerror(-rc);
}

// A method call on systemd; rc < 0 with `error` set on failure. A timeout is remembered so that a
// hung systemd costs one timeout, not one per property.
struct Caller {
    sd_bus* bus;
    bool timed_out = false;

    int call(const char* path, const char* iface, const char* method, Message& reply, std::string& error,
             const char* types, const auto&... args) {
        if (timed_out) {
            error = "systemd did not answer in time";
            return -ETIMEDOUT;
        }
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message* m = nullptr;
        int rc = sd_bus_call_method(bus, destination, path, iface, method, &e, &m, types, args...);
        if (rc < 0) {
            error = std::string(method) + ": " + bus_error_text(e, rc);
            timed_out = rc == -ETIMEDOUT;
        }
        sd_bus_error_free(&e);
        reply.reset(m);
        return rc;
    }
};

// Connects `bus` to `address` as a client of the bus daemon (hello) or directly to systemd.
int connect_bus(const std::string& address, bool bus_client, Bus& bus) {
    sd_bus* b = nullptr;
    int rc = sd_bus_new(&b);
    if (rc < 0) return rc;
    Bus owned(b);
    if ((rc = sd_bus_set_address(b, address.c_str())) < 0 || (rc = sd_bus_set_bus_client(b, bus_client)) < 0 ||
        (rc = sd_bus_start(b)) < 0)
        return rc;
    bus = std::move(owned);
    return 0;
}

// The view's system bus; where no bus daemon runs, systemd's private socket (root only, as
// systemctl does). root "" keeps sd_bus_open_system's choice (DBUS_SYSTEM_BUS_ADDRESS included).
Bus open_bus(const std::string& root, std::string& error) {
    Bus bus;
    int rc;
    if (root.empty()) {
        sd_bus* b = nullptr;
        rc = sd_bus_open_system(&b);
        bus.reset(b);
    } else {
        rc = connect_bus("unix:path=" + root + "/run/dbus/system_bus_socket", true, bus);
    }
    if (rc < 0 && geteuid() == 0 && connect_bus("unix:path=" + root + "/run/systemd/private", false, bus) >= 0)
        rc = 0;
    if (rc < 0) {
        error = std::string("cannot connect to the system bus: ") + strerror(-rc);
        bus.reset();
    }
    return bus;
}

// Readers of one property's variant; each returns sd-bus's rc.
using PropertyReader = std::function<int(sd_bus_message*)>;

PropertyReader into(std::string& out) {
    return [&out](sd_bus_message* m) {
        const char* s = nullptr;
        int rc = sd_bus_message_read(m, "v", "s", &s);
        if (rc >= 0) out = s ? s : "";
        return rc;
    };
}

PropertyReader into(uint32_t& out) {
    return [&out](sd_bus_message* m) { return sd_bus_message_read(m, "v", "u", &out); };
}

PropertyReader into(bool& out) {
    return [&out](sd_bus_message* m) {
        int b = 0;
        int rc = sd_bus_message_read(m, "v", "b", &b);
        out = b != 0;
        return rc;
    };
}

PropertyReader into(std::vector<std::string>& out) {
    return [&out](sd_bus_message* m) {
        int rc = sd_bus_message_enter_container(m, 'v', "as");
        if (rc < 0) return rc;
        char** strv = nullptr;
        rc = sd_bus_message_read_strv(m, &strv);
        for (char** s = strv; s && *s; ++s) {
            out.emplace_back(*s);
            free(*s);
        }
        free(strv);
        return rc < 0 ? rc : sd_bus_message_exit_container(m);
    };
}

// Socket.Listen, a(ss): (type, address) pairs.
PropertyReader into(std::vector<std::pair<std::string, std::string>>& out) {
    return [&out](sd_bus_message* m) {
        int rc = sd_bus_message_enter_container(m, 'v', "a(ss)");
        if (rc < 0 || (rc = sd_bus_message_enter_container(m, 'a', "(ss)")) < 0) return rc;
        const char *type = nullptr, *address = nullptr;
        while ((rc = sd_bus_message_read(m, "(ss)", &type, &address)) > 0)
            out.emplace_back(type ? type : "", address ? address : "");
        if (rc < 0 || (rc = sd_bus_message_exit_container(m)) < 0) return rc;
        return sd_bus_message_exit_container(m);
    };
}

// Unit.Job, (uo): the queued job's id and object path; id 0 (path "/") when there is none.
struct JobRef {
    uint32_t id = 0;
    std::string path;
};

PropertyReader into(JobRef& out) {
    return [&out](sd_bus_message* m) {
        const char* path = nullptr;
        int rc = sd_bus_message_read(m, "v", "(uo)", &out.id, &path);
        if (rc >= 0) out.path = path ? path : "";
        return rc;
    };
}

// Properties.GetAll of one interface: the properties `readers` names are read, others skipped.
int read_properties(Caller& caller, const std::string& path, const char* iface,
                    const std::map<std::string_view, PropertyReader>& readers, std::string& error) {
    Message reply;
    int rc = caller.call(path.c_str(), "org.freedesktop.DBus.Properties", "GetAll", reply, error, "s", iface);
    if (rc < 0) return rc;
    sd_bus_message* m = reply.get();
    if ((rc = sd_bus_message_enter_container(m, 'a', "{sv}")) < 0) return rc;
    while ((rc = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char* name = nullptr;
        if ((rc = sd_bus_message_read(m, "s", &name)) < 0) break;
        auto reader = readers.find(name ? name : "");
        rc = reader == readers.end() ? sd_bus_message_skip(m, "v") : reader->second(m);
        if (rc < 0 || (rc = sd_bus_message_exit_container(m)) < 0) break;
    }
    if (rc < 0) error = std::string(iface) + ": unexpected reply: " + strerror(-rc);
    return rc;
}

// The type-specific interface: Service (Result, MainPID) or Socket (Result, Listen, Accept, ...).
int read_type_properties(Caller& caller, const std::string& path, SystemdUnit& unit, std::string& error) {
    if (unit.id.ends_with(".service"))
        return read_properties(caller, path, "org.freedesktop.systemd1.Service",
                               {{"Result", into(unit.result)}, {"MainPID", into(unit.main_pid)}}, error);
    if (!unit.id.ends_with(".socket")) return 0;
    std::vector<std::pair<std::string, std::string>> listen;
    int rc = read_properties(caller, path, "org.freedesktop.systemd1.Socket",
                             {{"Result", into(unit.result)},
                              {"Listen", into(listen)},
                              {"Accept", into(unit.accept)},
                              {"NAccepted", into(unit.n_accepted)},
                              {"NConnections", into(unit.n_connections)}},
                             error);
    unit.listen = stream_listen_addresses(listen);
    return rc;
}

// Job.GetBefore: the jobs this one waits on (GetAfter lists those waiting on it, the other way round:
// measured on systemd 252, as `systemctl list-jobs --before` shows "waiting for job N").
std::vector<std::string> read_waited_jobs(Caller& caller, const std::string& job_path, std::string& error) {
    std::vector<std::string> waited;
    Message reply;
    if (caller.call(job_path.c_str(), job_iface, "GetBefore", reply, error, nullptr) < 0) return waited;
    sd_bus_message* m = reply.get();
    int rc = sd_bus_message_enter_container(m, 'a', "(usssoo)");
    uint32_t id = 0;
    const char *unit = nullptr, *type = nullptr, *state = nullptr, *path = nullptr, *unit_path = nullptr;
    while (rc >= 0 && waited.size() < max_waited_jobs &&
           (rc = sd_bus_message_read(m, "(usssoo)", &id, &unit, &type, &state, &path, &unit_path)) > 0)
        waited.push_back(waited_job_entry(id, unit ? unit : "", type ? type : "", state ? state : ""));
    if (rc < 0) error = std::string("GetBefore: unexpected reply: ") + strerror(-rc);
    return waited;
}

// The unit's queued job: its type, state and the jobs it waits on. A job lives only until it
// runs, so it may be gone by the time it is asked: a failure here is that race and leaves no job
// info, quietly; only a timeout is reported, as it also cuts the rest of the query short.
void read_job(Caller& caller, const JobRef& job, SystemdUnit& unit, std::string& error) {
    if (job.id == 0 || job.path.empty() || job.path == "/") return;
    std::string job_error, type, state;
    int rc = read_properties(caller, job.path, job_iface, {{"JobType", into(type)}, {"State", into(state)}}, job_error);
    if (rc >= 0) {
        unit.job_type = type;
        unit.job_state = state;
        unit.waiting_for = read_waited_jobs(caller, job.path, job_error);
    }
    if (caller.timed_out && error.empty()) error = "job " + std::to_string(job.id) + ": " + job_error;
}

// The Unit interface of object `path`; false when it could not be read (error set) or the unit
// does not exist.
bool read_unit_properties(Caller& caller, const std::string& path, const std::string& queried,
                          SystemdUnit& unit, std::string& error) {
    std::vector<std::string> names;
    JobRef job;
    int rc = read_properties(caller, path, "org.freedesktop.systemd1.Unit",
                             {{"Id", into(unit.id)},
                              {"Names", into(names)},
                              {"LoadState", into(unit.load_state)},
                              {"ActiveState", into(unit.active_state)},
                              {"SubState", into(unit.sub_state)},
                              {"UnitFileState", into(unit.unit_file_state)},
                              {"FragmentPath", into(unit.fragment_path)},
                              {"DropInPaths", into(unit.drop_ins)},
                              {"Triggers", into(unit.triggers)},
                              {"TriggeredBy", into(unit.triggered_by)},
                              {"Job", into(job)}},
                             error);
    if (rc < 0) return false;
    if (unit.load_state == "not-found") return false;
    if (unit.id.empty()) unit.id = queried;
    unit.name = unit.id;  // listed once, under its own name
    unit.aliases = unit_aliases(queried, unit.id, names);
    read_job(caller, job, unit, error);
    return true;
}

// LoadUnit, not GetUnit: a unit that is installed but was never started is not loaded yet. An
// alias loads the unit it names, so its object path is the real unit's.
std::string load_unit(Caller& caller, const std::string& name, std::string& error) {
    Message reply;
    if (caller.call(manager_path, manager_iface, "LoadUnit", reply, error, "s", name.c_str()) < 0) return "";
    const char* object = nullptr;
    if (sd_bus_message_read(reply.get(), "o", &object) < 0 || !object) {
        error = "LoadUnit: unexpected reply";
        return "";
    }
    return object;
}

// Adds `unit` unless it is another name of one listed: masking ssh.service on Debian leaves its
// alias sshd.service loaded apart (load state "error") from the same unit file.
void add_folding_aliases(std::vector<SystemdUnit>& units, SystemdUnit unit) {
    for (auto& listed : units) {
        if (unit.fragment_path.empty() || unit.fragment_path != listed.fragment_path) continue;
        for (const auto& name : unit_aliases("", listed.id, {unit.id}))
            if (std::find(listed.aliases.begin(), listed.aliases.end(), name) == listed.aliases.end())
                listed.aliases.push_back(name);
        return;
    }
    units.push_back(std::move(unit));
}

std::vector<SystemdUnit> query_ssh_units(Caller& caller, std::string& errors) {
    std::vector<SystemdUnit> units;
    std::set<std::string> seen_paths;
    for (const char* name : {"ssh.service", "sshd.service", "ssh.socket", "sshd.socket"}) {
        std::string error;
        std::string path = load_unit(caller, name, error);
        SystemdUnit unit;
        if (!path.empty() && seen_paths.insert(path).second && read_unit_properties(caller, path, name, unit, error) &&
            read_type_properties(caller, path, unit, error) >= 0)
            add_folding_aliases(units, std::move(unit));
        if (!error.empty()) errors += (errors.empty() ? "" : "; ") + std::string(name) + ": " + error;
        if (caller.timed_out) break;
    }
    return units;
}

// Object paths of the loaded *.socket units.
std::vector<std::pair<std::string, std::string>> list_socket_unit_paths(Caller& caller, std::string& error) {
    std::vector<std::pair<std::string, std::string>> paths;  // (id, object path)
    sd_bus_message* call = nullptr;
    int rc = sd_bus_message_new_method_call(caller.bus, &call, destination, manager_path, manager_iface,
                                            "ListUnitsByPatterns");
    Message request(call);
    const char* const no_states[] = {nullptr};
    const char* const patterns[] = {"*.socket", nullptr};
    if (rc >= 0) rc = sd_bus_message_append_strv(call, const_cast<char**>(no_states));
    if (rc >= 0) rc = sd_bus_message_append_strv(call, const_cast<char**>(patterns));
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message* m = nullptr;
    if (rc >= 0) rc = sd_bus_call(caller.bus, call, 0, &e, &m);
    Message reply(m);
    if (rc < 0) {
        error = "ListUnitsByPatterns: " + bus_error_text(e, rc);
        caller.timed_out = rc == -ETIMEDOUT;
        sd_bus_error_free(&e);
        return paths;
    }
    if ((rc = sd_bus_message_enter_container(m, 'a', "(ssssssouso)")) < 0) return paths;
    const char *id, *description, *load, *active, *sub, *following, *path, *job_type, *job_path;
    uint32_t job_id;
    while (paths.size() < max_socket_units &&
           (rc = sd_bus_message_read(m, "(ssssssouso)", &id, &description, &load, &active, &sub, &following,
                                     &path, &job_id, &job_type, &job_path)) > 0)
        paths.emplace_back(id, path);
    if (rc < 0) error = std::string("ListUnitsByPatterns: unexpected reply: ") + strerror(-rc);
    return paths;
}

// Every socket unit with an IP Stream listener: those pid 1 holds for a service it starts.
std::vector<SystemdUnit> query_socket_units(Caller& caller, std::string& errors) {
    std::vector<SystemdUnit> units;
    std::string first_error;
    for (const auto& [id, path] : list_socket_unit_paths(caller, first_error)) {
        if (caller.timed_out) break;
        SystemdUnit unit;
        unit.id = id;
        std::string error;
        // Listen first: most socket units are AF_UNIX ones, not worth the rest.
        bool ip_stream = false;
        if (read_type_properties(caller, path, unit, error) >= 0)
            for (const auto& address : unit.listen) ip_stream = ip_stream || is_ip_listen_address(address);
        if (ip_stream && read_unit_properties(caller, path, id, unit, error)) units.push_back(std::move(unit));
        if (first_error.empty() && !error.empty()) first_error = id + ": " + error;
    }
    if (!first_error.empty()) errors += (errors.empty() ? "socket units: " : "; socket units: ") + first_error;
    return units;
}

}  // namespace

std::vector<std::string> stream_listen_addresses(const std::vector<std::pair<std::string, std::string>>& listen) {
    std::vector<std::string> addresses;
    for (const auto& [type, address] : listen)
        if (type == "Stream") addresses.push_back(address);
    return addresses;
}

bool is_ip_listen_address(const std::string& address) {
    // systemd prints IP sockets as "[v6]:port", "v4:port" or a bare port; AF_UNIX as a path
    // ("/run/...", "@abstract"), AF_VSOCK as "vsock:...".
    return !address.empty() && (address[0] == '[' || (address[0] >= '0' && address[0] <= '9'));
}

std::vector<std::string> unit_aliases(const std::string& queried, const std::string& id,
                                      const std::vector<std::string>& names) {
    std::vector<std::string> aliases;
    auto add = [&](const std::string& name) {
        if (!name.empty() && name != id && std::find(aliases.begin(), aliases.end(), name) == aliases.end())
            aliases.push_back(name);
    };
    for (const auto& name : names) add(name);
    add(queried);
    return aliases;
}

std::string accept_instances_slice(const std::string& socket_id) {
    std::string prefix = socket_id.substr(0, socket_id.rfind('.'));
    // Instances go to system-<prefix>.slice, with '-' escaped in the prefix (it nests slices).
    std::string escaped;
    for (char c : prefix) escaped += c == '-' ? std::string("\\x2d") : std::string(1, c);
    return "system-" + escaped + ".slice";
}

std::string waited_job_entry(uint32_t job_id, const std::string& unit, const std::string& job_type,
                             const std::string& job_state) {
    std::string entry = unit.empty() ? "job " + std::to_string(job_id) : unit;
    std::string how = job_type.empty() || job_state.empty() ? job_type + job_state : job_type + ", " + job_state;
    return how.empty() ? entry : entry + " (" + how + ")";
}

SystemdUnits query_systemd_units(const std::string& root, std::string& error) {
    SystemdUnits result;
    error.clear();
    // sd_booted()'s test: systemd creates this directory when it runs as PID 1.
    struct stat st {};
    result.running = lstat((root + "/run/systemd/system").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    if (!result.running) return result;

    Bus bus = open_bus(root, error);
    if (!bus) return result;
    // A hung systemd must not hang the snapshot (sd-bus waits 25 s by default).
    sd_bus_set_method_call_timeout(bus.get(), 3'000'000);
    Caller caller{bus.get()};
    result.ssh_units = query_ssh_units(caller, error);
    if (!caller.timed_out) result.socket_units = query_socket_units(caller, error);
    return result;
}

}  // namespace synwhy::host
