#!/usr/bin/env python3
"""Static checks of docker-compose.yml beyond its schema (testing/compose-check.sh runs both):
that every file, host, port, user, database, topic and variable it refers to exists and agrees
with the configuration files and with the code.

    testing/compose-check.py COMPOSE_FILE BIN_DIR

BIN_DIR holds the built `dualsync`, `legacy-to-revamp` and `revamp-to-legacy`, whose `--help`
says which flags and environment variables they take. Prints every disagreement; exits 1 if any.
"""
import json
import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def dockerfile_copies():
    """The Dockerfile's `COPY src dest` lines from the build context (not from a stage), and the
    binaries it installs."""
    copies, binaries = {}, set()
    for line in open(os.path.join(ROOT, "Dockerfile")):
        parts = line.split()
        if parts[:1] == ["COPY"] and not parts[1].startswith("--from"):
            copies[parts[2]] = parts[1]
    text = open(os.path.join(ROOT, "Dockerfile")).read().replace("\\\n", " ")
    for line in text.splitlines():
        if line.startswith("COPY --from"):
            binaries.update(os.path.basename(p) for p in line.split()[2:-1])
    return copies, binaries


def repo_path(container_path, copies, mounts):
    """The repository file a path inside a container comes from (a bind mount or the image)."""
    for source, target in list(mounts.items()) + [(s, t) for t, s in copies.items()]:
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return os.path.normpath(os.path.join(ROOT, source, os.path.relpath(container_path, target)))
    return None


def bind_mounts(name, service):
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            if not os.path.exists(os.path.join(ROOT, source)):
                problem(name, f"mounts {source}, which is not in the repository")
            mounts[source] = target
    return mounts


def databases(services):
    """Per host:port, the database a compose service offers: kind, user, password, database."""
    out = {}
    for name, s in services.items():
        env = s.get("environment", {})
        if "MYSQL_USER" in env:
            out[f"{name}:3306"] = ("mysql", env["MYSQL_USER"], env["MYSQL_PASSWORD"], env.get("MYSQL_DATABASE"))
        if "POSTGRES_USER" in env:
            out[f"{name}:5432"] = ("postgres", env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env.get("POSTGRES_DB"))
    return out


def kafka_addresses(services):
    out = set()
    for name, s in services.items():
        listeners = s.get("environment", {}).get("KAFKA_ADVERTISED_LISTENERS", "")
        out.update(re.findall(r"PLAINTEXT://([^,]+)", listeners))
    return out


def check_url(where, url, dbs):
    parts = urlsplit(url)
    address = f"{parts.hostname}:{parts.port or {'mysql': 3306, 'postgres': 5432}.get(parts.scheme)}"
    if address not in dbs:
        return problem(where, f"{url} names {address}, which no database service offers ({sorted(dbs)})")
    kind, user, password, database = dbs[address]
    if not parts.scheme.startswith(kind[:5]):
        problem(where, f"{url} is {parts.scheme}, but {address} is {kind}")
    if (parts.username, parts.password) != (user, password):
        problem(where, f"{url}: user and password differ from the service's ({user})")
    if database and parts.path.lstrip("/") != database:
        problem(where, f"{url}: database {parts.path.lstrip('/')!r}, the service creates {database!r}")


def check_brokers(where, brokers, addresses):
    for broker in brokers.split(","):
        if broker.strip() not in addresses:
            problem(where, f"broker {broker} is not what the Kafka service advertises ({sorted(addresses)})")


def help_text(bin_dir, command):
    binary = os.path.join(bin_dir, command[0])
    if not os.access(binary, os.X_OK):
        problem(command[0], f"no such binary in {bin_dir} (build it first)")
        return ""
    words = [command[0]] + ([command[1]] if command[0] == "dualsync" and len(command) > 1 else [])
    result = subprocess.run([binary] + words[1:] + ["--help"], capture_output=True, text=True)
    if result.returncode != 0:
        problem(" ".join(words), f"--help failed: {result.stderr.strip()}")
    return result.stdout


def check_consumer(where, path, dbs, addresses, topics_written):
    config = yaml.safe_load(open(path))
    check_brokers(where, config["kafka"]["brokers"], addresses)
    check_url(where, config["target"]["url"], dbs)
    mapping = os.path.join(os.path.dirname(path), config["mapping"])
    if not os.path.exists(mapping):
        problem(where, f"mapping {config['mapping']} is not beside {os.path.relpath(path, ROOT)}")
    for topic in config["kafka"]["topics"]:
        for writer, matches in topics_written.items():
            if not matches(topic):
                problem(where, f"topic {topic} is not written by {writer}")
    return config


def main(compose_file, bin_dir):
    compose = yaml.safe_load(open(compose_file))
    services = compose["services"]
    copies, binaries = dockerfile_copies()
    dbs, addresses = databases(services), kafka_addresses(services)
    declared_volumes = set((compose.get("volumes") or {}).keys())
    sources = open_sources()
    # What writes the change topics: each capture path must write every topic a consumer reads.
    topics_written = {}
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            if dependency not in services:
                problem(name, f"depends on {dependency}, which is not a service")
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")) and source not in declared_volumes:
                problem(name, f"volume {source} is not declared under volumes:")
        if "build" in service and not os.path.exists(os.path.join(ROOT, service["build"], "Dockerfile")):
            problem(name, f"builds {service['build']}, which has no Dockerfile")
    registrations = register_files(services)
    for path in registrations:
        connector = json.load(open(path))["config"]
        where = os.path.relpath(path, ROOT)
        kind = "mysql" if "mysql" in connector["connector.class"].lower() else "postgres"
        database = connector.get("database.dbname") or connector.get("database.include.list")
        url = f"{kind}://{connector['database.user']}:{connector['database.password']}@" \
              f"{connector['database.hostname']}:{connector['database.port']}/{database}"
        check_url(where, url, dbs)
        if "schema.history.internal.kafka.bootstrap.servers" in connector:
            check_brokers(where, connector["schema.history.internal.kafka.bootstrap.servers"], addresses)
        pattern = re.compile(connector["table.include.list"])
        prefix = connector["topic.prefix"]
        topics_written.setdefault("Debezium", []).append((prefix, lambda t, p=pattern: p.fullmatch(t)))
    for name, service in services.items():
        command = service.get("command")
        if not isinstance(command, list) or "build" not in service:
            continue
        if command[0] not in binaries:
            problem(name, f"runs {command[0]}, which the Dockerfile does not install ({sorted(binaries)})")
            continue
        text = help_text(bin_dir, command)
        for flag in (w for w in command if w.startswith("--")):
            if flag not in text:
                problem(name, f"{' '.join(command[:2])} takes no {flag}")
        for variable in service.get("environment", {}):
            if variable.startswith("DUALSYNC_") and f"env: {variable}" not in text and f'"{variable}"' not in sources:
                problem(name, f"sets {variable}, which dualsync does not read")
        mounts = bind_mounts(name, service)
        for word in command:
            if word.startswith("/etc/dualsync/"):
                path = repo_path(word, copies, mounts)
                if not path or not os.path.exists(path):
                    problem(name, f"{word} comes from no file of the repository")
                elif command[:2] == ["dualsync", "capture"]:
                    capture = yaml.safe_load(open(path))
                    check_url(name, capture["source"], dbs)
                    check_brokers(name, capture["kafka"], addresses)
                    patterns = [re.compile(re.escape(p).replace(r"\*", ".*")) for p in capture["include"]]
                    match = lambda t, ps=patterns: any(p.fullmatch(t) for p in ps)
                    topics_written.setdefault("dualsync capture", []).append((capture["topic_prefix"], match))
    writers = {
        writer: (lambda topic, c=captures: any(
            topic.startswith(prefix + ".") and match(topic[len(prefix) + 1:]) for prefix, match in c))
        for writer, captures in topics_written.items()
    }
    if set(writers) != {"Debezium", "dualsync capture"}:
        problem("capture", f"both capture paths should be there, found {sorted(writers)}")
    for name, service in services.items():
        command = service.get("command")
        if not isinstance(command, list) or command[0] not in ("legacy-to-revamp", "revamp-to-legacy"):
            continue
        path = repo_path(command[command.index("--config") + 1], copies, bind_mounts(name, service))
        config = check_consumer(name, path, dbs, addresses, writers)
        listen = int(config["http"]["listen"].rsplit(":", 1)[1])
        published = [int(p.split(":")[-1]) for p in service.get("ports", [])]
        if listen not in published:
            problem(name, f"listens on {listen}, but publishes {published}")
        health = " ".join(service.get("healthcheck", {}).get("test", []))
        if f":{listen}/readyz" not in health:
            problem(name, f"its health check does not ask /readyz on {listen}")
    for line in problems:
        print(f"compose-check: {line}")
    print(f"compose-check: {len(services)} services, {len(registrations)} connector registrations checked; "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


def register_files(services):
    """The connector registrations the `register` service posts, as repository files."""
    out = []
    for name, service in services.items():
        mounts = bind_mounts(name, service)
        script = " ".join(service.get("command", [])) if isinstance(service.get("command"), list) else ""
        for path in re.findall(r"(/\S+\.json)", script):
            local = repo_path(path, {}, mounts)
            if not local or not os.path.exists(local):
                problem(name, f"registers {path}, which comes from no file of the repository")
            else:
                out.append(local)
    return out


def open_sources():
    text = []
    for directory, _, files in os.walk(os.path.join(ROOT, "crates")):
        text.extend(open(os.path.join(directory, f)).read() for f in files if f.endswith(".rs"))
    return "\n".join(text)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
