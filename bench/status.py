#!/usr/bin/env python3
"""How fast `ferry status` answers with many tasks and long histories.

    bench/status.py [--tasks 100] [--runs-per-task 1000] [--repeat 15]

Makes a FERRY_HOME with --tasks tasks (hourly, daily or weekly) and, in an XDG state folder of its
own, a history of --runs-per-task runs for each (the newest failed for one task in ten, so both
the newest run and the newest success must be found), then times `ferry status --json` --repeat
times and prints the median, the slowest, and whether the median is under the 100 ms that a
monitor or a status bar calling it every minute may spend. There is no rsync figure: rsync has no
tasks. Needs a build in build/ only (no root, no sshd).
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FERRY = os.path.join(ROOT, "build", "bin", "ferry")
TARGET_MS = 100.0


def make_home(base, tasks, runs_per_task):
    home = os.path.join(base, "home")
    state = os.path.join(base, "state")
    history = os.path.join(state, "ferry", "history")
    os.makedirs(home)
    os.makedirs(history)
    schedules = ["hourly", "daily 02:30", "weekly"]
    now = int(time.time())
    with open(os.path.join(home, "tasks.toml"), "w") as f:
        for t in range(tasks):
            f.write(f'[tasks.task{t:03}]\nsource = "/srv/data/{t}"\ndestination = "backup@nas:/backups/{t}"\n'
                    f'exclude = ["*.tmp", "cache/"]\nschedule = "{schedules[t % 3]}"\n\n')
    for t in range(tasks):
        with open(os.path.join(history, f"task{t:03}.jsonl"), "w") as f:
            for r in range(runs_per_task):
                start = now - (runs_per_task - r) * 600
                failed = t % 10 == 0 and r == runs_per_task - 1
                record = {"start": start, "end": start + 42, "exit_code": 3 if failed else 0, "files": 120,
                          "bytes": 123456789, "errors": 2 if failed else 0,
                          "log": f"{history}/task{t:03}/{start}.log", "summary": f"{history}/task{t:03}/{start}.json"}
                if failed:
                    record["first_error"] = "cannot read /srv/data/secret: Permission denied"
                f.write(json.dumps(record, separators=(",", ":")) + "\n")
    return home, state


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--runs-per-task", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ferry-status-bench.") as base:
        home, state = make_home(base, args.tasks, args.runs_per_task)
        env = dict(os.environ, FERRY_HOME=home, XDG_STATE_HOME=state)
        history_bytes = sum(os.path.getsize(os.path.join(state, "ferry", "history", n))
                            for n in os.listdir(os.path.join(state, "ferry", "history")))
        times = []
        for _ in range(args.repeat):
            begin = time.perf_counter()
            done = subprocess.run([FERRY, "status", "--json", "--max-age", "30d"], env=env, capture_output=True, text=True)
            times.append((time.perf_counter() - begin) * 1000)
            report = json.loads(done.stdout)
            assert len(report) == args.tasks, done.stderr
            assert sum(1 for t in report if not t["ok"]) == (args.tasks + 9) // 10, "failed tasks not all found"
            assert done.returncode == 1, "status must fail while a task's last run failed"
        median = statistics.median(times)
        print(f"ferry status --json: {args.tasks} tasks x {args.runs_per_task} runs "
              f"({history_bytes / 2**20:.1f} MiB of history), {args.repeat} calls")
        print(f"  median {median:.1f} ms, slowest {max(times):.1f} ms; "
              f"{'under' if median < TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target")


if __name__ == "__main__":
    main()
