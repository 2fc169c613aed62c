"""The README is the product: its shell blocks, run in order on a fresh copy, offline.

The copy holds the repository's tracked files and no `../shared` beside it, so every block must
work from what a user clones. Blocks run as written, in one shell state, by the rules of
`tests/e2e/readme_blocks.py` (the README marks the ones that need the internet, real keys or
Ctrl-C). The copy shares this test run's virtualenv (a symlink, its install stamp current), so
`make run` starts at once; a fresh install is what CI's own clean clone proves.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.e2e.readme_blocks import Block, readme_blocks

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent
SHORT_CANDLES = 2 * 60  # a `short` block's candle files: their first two hours
BLOCK_TIMEOUT_S = 300
UP_TIMEOUT_S = 120
_CANDLES = re.compile(r"(--candles\s+)(\S+)")


@dataclass
class Terminal:
    """A shell session in the fresh copy: exported state carries over from block to block."""

    clone: Path
    env: dict[str, str]
    state: Path
    log: Path
    background: list[tuple[Block, subprocess.Popen[bytes]]] = field(default_factory=list)

    def script(self, block: Block) -> str:
        code = self._shortened(block.code) if block.rule == "short" else block.code
        return (
            f'set -euo pipefail\nsource "{self.state}"\n{code}\n'
            f'export -p | grep -v -E "^declare -x (PWD|OLDPWD|SHLVL|_)=" > "{self.state}.new"\n'
            f'mv "{self.state}.new" "{self.state}"\n'
        )

    def start(self, block: Block) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            log.write(f"\n===== {block.describe()}\n".encode())
        return subprocess.Popen(  # noqa: S602 - the README's own shell text, on purpose
            ["bash", "-c", self.script(block)],
            cwd=self.clone,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: Ctrl-C reaches it alone
        )

    def run(self, block: Block) -> None:
        process = self.start(block)
        try:
            code = process.wait(timeout=BLOCK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            ctrl_c(process)
            pytest.fail(
                f"{block.describe()} still running after {BLOCK_TIMEOUT_S} s\n{self.tail()}"
            )
        assert code == 0, f"{block.describe()} exited {code}\n{self.tail()}"

    def wait_until_up(self, block: Block, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + UP_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(
                    f"{block.describe()} ended ({process.returncode}) before "
                    f"{block.argument} answered\n{self.tail()}"
                )
            try:
                if httpx.get(block.argument, timeout=2).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        ctrl_c(process)
        pytest.fail(
            f"{block.describe()}: {block.argument} not up in {UP_TIMEOUT_S} s\n{self.tail()}"
        )

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def _shortened(self, code: str) -> str:
        def slice_of(match: re.Match[str]) -> str:
            source = self.clone / match.group(2)
            short = self.clone / ".readme-short" / source.name
            if not short.exists():
                short.parent.mkdir(exist_ok=True)
                with gzip.open(source, "rt") as lines, gzip.open(short, "wt") as kept:
                    for number, line in enumerate(lines):
                        if number > SHORT_CANDLES:
                            break
                        kept.write(line)
            return match.group(1) + str(short)

        return _CANDLES.sub(slice_of, code)


def ctrl_c(process: subprocess.Popen[bytes], timeout_s: float = 60) -> int:
    """Press Ctrl-C in the process's terminal (SIGINT to its group) and wait for it to end."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail(f"still running {timeout_s} s after Ctrl-C")
    return process.returncode


def ended_by_ctrl_c(code: int) -> bool:
    """0 if the command handled Ctrl-C and finished; SIGINT's own codes if the shell passed it."""
    return code in (0, 130, -signal.SIGINT)


@pytest.fixture(scope="module")
def fresh_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The repository's tracked files, alone (no `../shared`, no `.ledger`), beside nothing."""
    stamp = VENV / ".installed-stamp"
    if not stamp.exists() or stamp.stat().st_mtime < (REPO / "pyproject.toml").stat().st_mtime:
        pytest.skip(f"needs the virtualenv `make install` builds ({stamp} missing or stale)")
    clone = tmp_path_factory.mktemp("readme") / "upbit-ledger"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, tracked.split("\0")):
        source = REPO / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    (clone / ".venv").symlink_to(VENV, target_is_directory=True)
    assert not (clone.parent / "shared").exists()
    yield clone
    subprocess.run(
        [str(VENV / "bin" / "ledger"), "services", "down"],
        cwd=clone,
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.mark.timeout(1500)
def test_every_shell_block_of_the_readme_runs_as_written_on_a_fresh_copy(
    fresh_copy: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    state = tmp_path / "shell-state"
    state.write_text("")
    terminal = Terminal(
        clone=fresh_copy,
        env={
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "COLUMNS": "120",
            "TERM": "dumb",
        },
        state=state,
        log=tmp_path / "terminal.log",
    )
    for port in README_PORTS:
        wait_until_free(port)
    ran: list[str] = []
    try:
        for block in readme_blocks(fresh_copy / "README.md"):
            if block.rule == "skip":
                continue
            if block.rule in ("run", "short"):
                terminal.run(block)
            elif block.rule == "ctrl-c-when-up":
                process = terminal.start(block)
                terminal.wait_until_up(block, process)
                code = ctrl_c(process)
                assert ended_by_ctrl_c(code), (
                    f"{block.describe()}: Ctrl-C gave {code}\n{terminal.tail()}"
                )
            elif block.rule == "background":
                process = terminal.start(block)
                terminal.wait_until_up(block, process)
                terminal.background.append((block, process))
            elif block.rule == "ctrl-c-after":
                process = terminal.start(block)
                try:
                    process.wait(timeout=int(block.argument))
                except subprocess.TimeoutExpired:
                    pass
                else:
                    pytest.fail(f"{block.describe()} ended by itself\n{terminal.tail()}")
                code = ctrl_c(process)
                assert ended_by_ctrl_c(code), (
                    f"{block.describe()}: Ctrl-C gave {code}\n{terminal.tail()}"
                )
            ran.append(block.describe())
    finally:
        for block, process in reversed(terminal.background):
            stopped_by_a_block = process.poll() is not None  # e.g. `make down` ended `ledger run`
            code = ctrl_c(process)
            fine = (
                code in (0, 143, -signal.SIGTERM) if stopped_by_a_block else ended_by_ctrl_c(code)
            )
            assert fine, f"{block.describe()}: ended with {code}\n{terminal.tail()}"
    assert len(ran) >= 10, ran
    # And after `make down`, nothing the README started is left running
    assert survivors_of(fresh_copy) == [], terminal.tail()


README_PORTS = (8000, 8765)
"""The fixed ports the README's blocks bind (the API, the sandbox)."""


def wait_until_free(port: int, timeout_s: float = 60) -> None:
    """Wait until nothing listens on 127.0.0.1:`port` (an earlier test's server may still be
    ending), or fail naming the port."""
    deadline = time.monotonic() + timeout_s
    while True:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
                return
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"127.0.0.1:{port}, which the README uses, stayed taken")
        time.sleep(0.5)


def survivors_of(clone: Path, timeout_s: float = 30) -> list[str]:
    """Return the command lines of processes still running from the copy, once they settle."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                command = (
                    (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
            except OSError:
                continue
            if str(clone) in command:
                left.append(f"{proc.name}: {command}")
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)
