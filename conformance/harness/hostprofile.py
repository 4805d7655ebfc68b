"""Host profiles: a declarative file per host saying how to start it with
given components, subscriptions and a broker, and how to stop it.
The format is documented in docs/CONFORMANCE.md ("Host profiles").
"""

import os
import signal
import string
import subprocess
import sys
import time

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    tomllib = None


class ProfileError(Exception):
    pass


SHAPES = ["0.2.0-draft", "0.2.0-draft-async", "0.1.0", "0.2.0-draft-2024"]


def expand(text, values, where):
    """${name} placeholders; ${env:NAME} reads the environment."""
    class T(string.Template):
        idpattern = r"(?a:env:[_a-z][_a-z0-9]*|[_a-z][_a-z0-9]*)"
        flags = 0
    vals = dict(values)
    for key, value in os.environ.items():
        vals["env:" + key] = value
    try:
        return T(text).substitute(vals)
    except KeyError as e:
        raise ProfileError(f"{where}: unknown placeholder ${{{e.args[0]}}}") from None
    except ValueError as e:
        raise ProfileError(f"{where}: {e}") from None


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Profile:
    def __init__(self, path, binary_override=None, components_override=None):
        if tomllib is None:
            raise ProfileError("the harness needs Python 3.11 or newer (tomllib)")
        self.path = os.path.abspath(path)
        if not os.path.exists(self.path):
            raise ProfileError(f"profile {path}: no such file")
        try:
            with open(self.path, "rb") as f:
                self.data = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ProfileError(f"profile {path}: {e}") from None
        self.dir = os.path.dirname(self.path)
        d = self.data
        for key in ("name", "binary", "components", "start", "files", "component", "brokers"):
            if key not in d:
                raise ProfileError(f"profile {path}: missing key '{key}'")
        self.name = d["name"]
        # Paths given on the command line are from the current directory;
        # the profile's own, from the profile's folder.
        self.binary = (os.path.abspath(binary_override) if binary_override
                       else self._resolve(expand(d["binary"], {}, f"{path}: binary")))
        if not os.path.isfile(self.binary):
            raise ProfileError(f"profile {os.path.basename(path)}: host binary {self.binary} does not exist "
                               "(build the host, or pass --host-binary)")
        self.components_dir = (os.path.abspath(components_override) if components_override
                               else self._resolve(expand(d["components"], {}, f"{path}: components")))
        self.shapes = d.get("shapes", SHAPES)
        for s in self.shapes:
            if s not in SHAPES:
                raise ProfileError(f"profile {path}: shape '{s}' is not one of {', '.join(SHAPES)}")
        self.dead_letter = d.get("suite", {}).get("dead_letter")

    def _resolve(self, p):
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(self.dir, p))

    def broker(self, kind):
        b = self.data["brokers"].get(kind)
        if b is None:
            raise ProfileError(f"profile {self.name}: no [brokers.{kind}] entry: this host cannot run "
                               f"on {kind} (profile brokers: {', '.join(self.data['brokers'])})")
        return b

    def component_path(self, name):
        p = os.path.join(self.components_dir, name + ".wasm")
        if not os.path.isfile(p):
            raise ProfileError(f"component {p} is missing: build conformance/ first")
        return p


class Host:
    """One running host process under a profile."""

    def __init__(self, profile, kind, server_values, components, run_dir):
        self.profile = profile
        self.kind = kind
        self.run_dir = run_dir
        self.proc = None
        self.log_path = os.path.join(run_dir, "host.log")
        entry = profile.broker(kind)
        base = {"run_dir": run_dir.replace("\\", "/"), "binary": profile.binary}
        base.update(server_values)
        self.values = dict(base)
        self.values["broker"] = expand(entry.get("broker", ""), base, f"brokers.{kind}.broker")
        extensions = entry.get("extensions", "{}")
        blocks = []
        for c in components:
            v = dict(base)
            v.update(name=c["name"], path=c["path"].replace("\\", "/"), shape=c["shape"],
                     subscribe="[" + ", ".join(toml_str(t) for t in c["subscribe"]) + "]",
                     extensions=expand(extensions, dict(base, name=c["name"]), f"brokers.{kind}.extensions"))
            blocks.append(expand(profile.data["component"]["text"], v, "component.text"))
        self.values["components"] = "\n".join(blocks)
        self.access = {k: expand(v, self.values, f"brokers.{kind}.{k}") if isinstance(v, str) else v
                       for k, v in entry.items() if k not in ("broker", "extensions")}

    def write_files(self):
        for f in self.profile.data["files"]:
            path = os.path.join(self.run_dir, expand(f["path"], self.values, "files.path"))
            with open(path, "w", encoding="utf-8") as out:
                out.write(expand(f["text"], self.values, f"files[{f['path']}].text"))

    def start(self):
        self.write_files()
        argv = [expand(a, self.values, "start.command") for a in self.profile.data["start"]["command"]]
        env = dict(os.environ)
        for k, v in self.profile.data["start"].get("env", {}).items():
            env[k] = expand(v, self.values, "start.env")
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.run_dir, env=env)
        except OSError as e:
            raise ProfileError(f"profile {self.profile.name}: cannot start {argv[0]}: {e}") from None
        finally:
            log.close()
        ready = self.profile.data["start"].get("ready_file")
        if ready:
            path = expand(ready, self.values, "start.ready_file")
            deadline = time.monotonic() + self.ready_timeout()
            while not os.path.exists(path):
                if not self.alive():
                    raise ProfileError(f"host exited with status {self.proc.returncode} while starting "
                                       f"(log: {self.log_path})")
                if time.monotonic() > deadline:
                    raise ProfileError(f"host did not create {path} in time (log: {self.log_path})")
                time.sleep(0.05)

    def ready_timeout(self):
        return self.profile.data["start"].get("ready_timeout_ms", 60000) / 1000

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def exit_status(self):
        return None if self.proc is None else self.proc.poll()

    def kill(self):
        """Ends the host at once (the harness's crash test uses it)."""
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if not self.alive():
            return
        stop = self.profile.data.get("stop", {})
        how = stop.get("signal", "terminate")
        if how == "interrupt" and sys.platform != "win32":
            self.proc.send_signal(signal.SIGINT)
        else:
            self.proc.terminate()
        try:
            self.proc.wait(stop.get("timeout_ms", 15000) / 1000)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, n=5):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return " | ".join(lines[-n:])
        except OSError:
            return ""
